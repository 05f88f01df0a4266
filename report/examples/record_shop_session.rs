//! Records the fixture app's shop flow with mouse and keyboard input (actions, screenshots,
//! console) into the store at the given directory and prints the session id. Used by
//! `scripts/report-screenshot.sh` to make the README's screenshot of `spool report`.
//!
//! ```sh
//! cargo run -p spool-report --example record_shop_session -- DATA_DIR
//! ```

#![allow(clippy::unwrap_used)] // Example code: an unwrap that fails is a failed run.

#[path = "../tests/common/shop.rs"]
mod shop;

use spool_fixtures::{FixtureConfig, FixtureServer};
use spool_store::Store;

#[tokio::main]
async fn main() {
    let dir = std::env::args()
        .nth(1)
        .expect("usage: record_shop_session DATA_DIR");
    let store = Store::open(std::path::Path::new(&dir)).unwrap();
    let server = FixtureServer::start_with(
        FixtureConfig {
            username: shop::USERNAME.into(),
            password: shop::PASSWORD.into(),
            ..FixtureConfig::default()
        },
        0,
    )
    .await
    .unwrap();
    let session = shop::record_shop_session(&store, &server).await;
    println!("{}", session.metadata.session_id);
}
