//! `wardstream audit verify`: checks every tenant's audit-trail hash chain in the store.

use clap::{Args, Subcommand};

use crate::config::Config;

/// `wardstream audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Recompute every tenant's chain of patient-record audit entries: each entry's hash, its
    /// link to the one before, no gaps, and the chain's recorded head. Exits 1 when any chain
    /// is broken, naming the first bad entry.
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// The store (`sqlite://file.db` or `postgres://…`); default `[serve] database_url` or
    /// `DATABASE_URL`.
    #[arg(long)]
    database_url: Option<String>,
    /// Print the reports as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `wardstream audit`.
pub fn run(config: Config, args: AuditArgs) -> anyhow::Result<()> {
    let AuditCommand::Verify(v) = args.command;
    let url = v
        .database_url
        .or(config.serve.database_url)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no store: pass --database-url or set [serve] database_url or DATABASE_URL"
            )
        })?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let reports = runtime.block_on(async {
        let db = wardstream_api::db::open(&url).await?;
        anyhow::Ok(wardstream_api::audit::verify(&db).await?)
    })?;
    if v.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    } else {
        for r in &reports {
            match &r.broken {
                None => println!("{}: {} entries, chain intact", r.tenant_id, r.entries),
                Some(why) => println!("{}: BROKEN: {why}", r.tenant_id),
            }
        }
        if reports.is_empty() {
            println!("no audit entries in {}", wardstream_api::db::mask(&url));
        }
    }
    if reports.iter().any(|r| r.broken.is_some()) {
        anyhow::bail!("the audit trail has been tampered with (see above)");
    }
    Ok(())
}
