//! The Redis server of the shared EC2 budget: reachable with the configured URL and password,
//! and willing to load the budget's script (a server that refuses scripts, such as one with
//! `EVAL` renamed away, would leave every replica on its fallback share).

use super::Report;
use crate::protection::budget::script::BudgetScript;
use crate::protection::budget::settings::RedisSettings;
use crate::protection::budget::shared::{self, redis_location};
use std::time::Duration;

/// How long the check waits for Redis before calling it unreachable.
const WAIT: Duration = Duration::from_secs(5);

/// Connects, PINGs, and loads the budget script.
pub async fn check(report: &mut Report, redis: &RedisSettings) {
    let location = redis_location(&redis.url.0);
    let reached = tokio::time::timeout(WAIT, async {
        let password = redis.password()?;
        let client = shared::client(&redis.url, password.as_ref())?;
        let mut connection = client
            .get_multiplexed_async_connection()
            .await
            .map_err(|e| format!("cannot connect: {e}"))?;
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
            .map_err(|e| format!("PING failed: {e}"))?;
        BudgetScript::default()
            .load(&mut connection)
            .await
            .map_err(|e| format!("the budget script could not be loaded: {e}"))
    })
    .await
    .unwrap_or_else(|_| Err(format!("no answer within {} s", WAIT.as_secs())));
    report.add(
        "Redis",
        reached
            .map(|sha| format!("{location} answered; the budget script is loaded ({sha})"))
            .map_err(|e| format!("{location}: {e}")),
    );
}
