//! The API's OpenAPI 3.1 description, generated from the handlers' annotations (utoipa) and
//! served at `GET /openapi.json`.
//!
//! It covers the transactional domains (tenants, auth, patients, scheduling, billing,
//! audit). Every protected route declares the `bearer` scheme (an access JWT from
//! `/v1/auth/login`); every error is `application/problem+json` ([`Problem`]).

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::problem::{FieldError, Problem};

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "wardstream",
        description = "Hospital operations: the transactional API (tenants, auth, patients, providers, appointments, invoices, audit, exceptions) beside the live views."
    ),
    paths(
        crate::tenants::onboard,
        crate::tenants::get_tenant,
        crate::tenants::get_settings,
        crate::tenants::put_setting,
        crate::tenants::register,
        crate::tenants::login,
        crate::tenants::refresh,
        crate::tenants::logout,
        crate::tenants::me,
        crate::patients::create,
        crate::patients::read,
        crate::patients::update,
        crate::patients::deactivate,
        crate::patients::fhir_read,
        crate::patients::fhir_create,
        crate::patient_search::search,
        crate::patient_search::fhir_search,
        crate::scheduling::create_provider,
        crate::scheduling::list_providers,
        crate::availability::put,
        crate::availability::get,
        crate::scheduling::book,
        crate::scheduling::get_appointment,
        crate::scheduling::act,
        crate::billing::create,
        crate::billing::get_invoice,
        crate::billing::act,
        crate::audit::list,
        crate::exceptions::list,
    ),
    components(schemas(Problem, FieldError)),
    modifiers(&Bearer),
    tags(
        (name = "tenants", description = "Onboarding and tenant settings"),
        (name = "auth", description = "Users, login, token rotation"),
        (name = "patients", description = "Patients, also as FHIR R4 resources"),
        (name = "scheduling", description = "Providers and appointments"),
        (name = "billing", description = "Invoices"),
        (name = "audit", description = "Who read or changed which patient record"),
        (name = "operations", description = "Requests the server failed, for admins"),
    )
)]
pub struct ApiDoc;

/// Adds the `bearer` security scheme (HTTP bearer, JWT).
struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// `GET /openapi.json`.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
