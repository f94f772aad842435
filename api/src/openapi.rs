//! The API's OpenAPI 3.1 description, generated from the handlers' annotations (utoipa) and
//! served at `GET /openapi.json`, with Swagger UI over it at `GET /docs` (its assets built into
//! the binary: no CDN).
//!
//! The document describes exactly the routes the server serves ([`document`]): the views,
//! twin and staffing routes always ([`ViewsDoc`]); with accounts, the transactional domains
//! (tenants, auth, patients, scheduling, billing, audit, exceptions:
//! [`TransactionalDoc`]); with a federation too, the federated-learning routes
//! ([`FederatedDoc`]). Every protected route declares the `bearer` scheme (an access JWT from
//! `/v1/auth/login`); every error is `application/problem+json` ([`Problem`]).

use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::problem::{FieldError, Problem};

/// The routes over the views that every server has: health, metrics, status, SQL, twin runs,
/// staffing recommendations. Twin, staffing and SQL declare their security as optional here;
/// [`document`] makes it required when the API has accounts and drops it when it has none.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "wardstream",
        description = "Hospital operations: live views (census, NEWS2, ED flow, no-shows, revenue) with SQL over them, digital-twin runs, staffing recommendations and, with accounts, the transactional API (tenants, auth, patients, providers, appointments, invoices, audit, exceptions) and federated learning."
    ),
    paths(
        crate::healthz,
        crate::ready_without_store,
        crate::metrics::metrics,
        crate::status,
        crate::tables,
        crate::run_sql,
        crate::twin::create,
        crate::twin::list,
        crate::twin::get_run,
        crate::staffing::recommendations,
    ),
    components(schemas(Problem, FieldError)),
    tags(
        (name = "views", description = "SQL over the live views, and the engine's status"),
        (name = "twin", description = "Digital-twin scenario runs"),
        (name = "staffing", description = "Nurse rosters and staffing recommendations"),
        (name = "operations", description = "Health, readiness, metrics, and requests the server failed"),
    )
)]
pub struct ViewsDoc;

/// The transactional routes (a server with accounts).
#[derive(OpenApi)]
#[openapi(
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
    tags(
        (name = "tenants", description = "Onboarding and tenant settings"),
        (name = "auth", description = "Users, login, token rotation"),
        (name = "patients", description = "Patients, also as FHIR R4 resources"),
        (name = "scheduling", description = "Providers and appointments"),
        (name = "billing", description = "Invoices"),
        (name = "audit", description = "Who read or changed which patient record"),
    )
)]
pub struct TransactionalDoc;

/// The federated-learning routes (a server with accounts and a federation).
#[derive(OpenApi)]
#[openapi(
    paths(
        crate::federated::register,
        crate::federated::model,
        crate::federated::submit,
        crate::federated::status,
        crate::federated::secagg_advertise,
        crate::federated::secagg_adverts,
        crate::federated::secagg_share,
        crate::federated::secagg_inbox,
        crate::federated::secagg_masked,
        crate::federated::secagg_survivors,
        crate::federated::secagg_unmask,
    ),
    tags((name = "federated", description = "Federated learning: each tenant a site")),
)]
pub struct FederatedDoc;

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

/// The document of a server with `accounts` (the transactional routes) and `federation`
/// (the federated-learning routes; only with accounts).
///
/// Without accounts nothing needs a token, so no operation declares security; with them the
/// `bearer` scheme is added and the routes that are open only without accounts (SQL, twin,
/// staffing) require it.
pub fn document(accounts: bool, federation: bool) -> utoipa::openapi::OpenApi {
    let mut doc = ViewsDoc::openapi();
    if accounts {
        doc.merge(TransactionalDoc::openapi());
        if federation {
            doc.merge(FederatedDoc::openapi());
        }
        Bearer.modify(&mut doc);
    }
    // `{}` beside `bearer` means "optional"; with accounts it is required.
    let optional = serde_json::to_value(utoipa::openapi::security::SecurityRequirement::default())
        .unwrap_or_default();
    for item in doc.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            if !accounts {
                op.security = None;
            } else if let Some(reqs) = &mut op.security {
                reqs.retain(|r| serde_json::to_value(r).unwrap_or_default() != optional);
            }
        }
    }
    doc
}

/// `GET /openapi.json` serving `doc`, and Swagger UI over it at `GET /docs`.
pub fn docs(doc: utoipa::openapi::OpenApi) -> Router {
    Router::from(utoipa_swagger_ui::SwaggerUi::new("/docs").url("/openapi.json", doc))
}
