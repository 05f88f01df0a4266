//! `spool fixture-site`: the fixture web app on 127.0.0.1, until Ctrl-C.

use anyhow::Context;

pub async fn run(port: u16) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
    let addr = listener.local_addr()?;
    println!(
        "fixture app on http://{addr}/ (flows: /shop/?auto=1 /signed/ /captcha/?auto=1 /static/ /noisy/ /state/); Ctrl-C stops it"
    );
    spool_fixtures::serve_listener(listener, spool_fixtures::FixtureConfig::default()).await?;
    Ok(())
}
