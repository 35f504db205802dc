//! `ec2-standin`: serves the EC2 stand-in from the command line (benchmarks, manual tries).

use clap::Parser;
use std::net::SocketAddr;

/// A fast, controllable EC2 endpoint for ec2-grpc's tests and benchmarks. Point aws-sdk-ec2,
/// boto3, the AWS CLI or ec2-grpc at it with AWS_ENDPOINT_URL_EC2=http://ADDR.
#[derive(Debug, Parser)]
#[command(name = "ec2-standin", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:5056")]
    listen: SocketAddr,
    /// Instances to seed.
    #[arg(long, default_value_t = 0)]
    instances: usize,
    /// Extra network interfaces to seed.
    #[arg(long, default_value_t = 0)]
    enis: usize,
    /// Admit every call (no EC2 throttling).
    #[arg(long)]
    no_throttling: bool,
    /// How long pending, stopping and shutting-down last, in milliseconds (0: at once).
    #[arg(long, default_value_t = 0)]
    transition_ms: u64,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let mut builder = ec2_standin::Standin::builder()
        .seed(args.instances, args.enis)
        .transition(std::time::Duration::from_millis(args.transition_ms));
    if args.no_throttling {
        builder = builder.without_throttling();
    }
    let standin = builder.start_on(args.listen).await?;
    eprintln!(
        "listening on {} ({} instances, {} network interfaces)",
        standin.addr(),
        standin.with_account(|a| a.instances.len()),
        standin.with_account(|a| a.enis.len())
    );
    tokio::signal::ctrl_c().await?;
    Ok(())
}
