//! `tabula-operator`: watches Tables (and the StatefulSets it owns) in every namespace and
//! reconciles them; serves `/metrics`, `/healthz` and `/readyz`; stops cleanly on SIGTERM.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use clap::Parser;
use futures::StreamExt;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use k8s_openapi::api::apps::v1::StatefulSet;
use kube::runtime::events::Reporter;
use kube::runtime::{Controller, watcher};
use kube::{Api, Client};
use kube_lease_manager::LeaseManagerBuilder;
use tabula_operator::builders::{self, Settings};
use tabula_operator::crd::Table;
use tabula_operator::dataplane::DataPlane;
use tabula_operator::metrics::Metrics;
use tabula_operator::reconcile::{Context, error_policy, reconcile};

#[derive(Parser, Debug)]
#[command(
    name = "tabula-operator",
    version,
    about = "Kubernetes operator for Tabula tables"
)]
struct Args {
    /// Address of the metrics and health endpoints (/metrics, /healthz, /readyz).
    #[arg(long, default_value = "0.0.0.0:8080", env = "TABULA_METRICS_LISTEN")]
    metrics_listen: SocketAddr,

    /// Data-plane image for tables that do not name one (the chart passes its own image).
    #[arg(long, env = "TABULA_DATAPLANE_IMAGE", default_value_t = Settings::default().default_image)]
    dataplane_image: String,

    /// Region the data planes report in table ARNs.
    #[arg(long, default_value = "us-east-1", env = "TABULA_REGION")]
    region: String,

    /// Cluster DNS domain used in table endpoints.
    #[arg(long, default_value = "cluster.local", env = "TABULA_CLUSTER_DOMAIN")]
    cluster_domain: String,

    /// Run only while holding the `tabula-operator` Lease in POD_NAMESPACE, so that several
    /// replicas never reconcile at once. Off: reconcile unconditionally (one replica only).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, env = "TABULA_LEADER_ELECTION")]
    leader_election: bool,

    /// Log filter (tracing `EnvFilter` syntax).
    #[arg(long, default_value = "info", env = "TABULA_LOG")]
    log: String,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    // Other crates in the build may enable a second rustls backend; choose ring explicitly so
    // the Kubernetes client never has to guess (it panics when both are present).
    let _ = rustls::crypto::ring::default_provider().install_default();
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&args.log)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let client = match Client::try_default().await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tabula-operator: cannot configure the Kubernetes client: {e}");
            std::process::exit(1);
        }
    };
    let settings = Settings {
        default_image: args.dataplane_image.clone(),
        region: args.region.clone(),
        cluster_domain: args.cluster_domain.clone(),
    };
    let metrics = Metrics::default();
    let ready = Arc::new(AtomicBool::new(false));
    let listener = match tokio::net::TcpListener::bind(args.metrics_listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "tabula-operator: cannot listen on {}: {e}",
                args.metrics_listen
            );
            std::process::exit(1);
        }
    };
    tokio::spawn(serve_http(listener, metrics.clone(), ready.clone()));

    let endpoint_settings = settings.clone();
    let pod_settings = settings.clone();
    let ctx = Arc::new(Context {
        client: client.clone(),
        settings,
        dataplane: DataPlane::default(),
        endpoint_for: Box::new(move |t: &Table| builders::endpoint(t, &endpoint_settings)),
        pod_endpoint_for: Box::new(move |t: &Table, i: usize| {
            builders::pod_endpoint(t, i, &pod_settings)
        }),
        reporter: Reporter {
            controller: "tabula-operator".into(),
            instance: std::env::var("POD_NAME").ok(),
        },
        metrics,
        backoff: Default::default(),
        status_writes: Default::default(),
    });
    // A standby replica is healthy and ready; it just does not reconcile.
    ready.store(true, Ordering::Relaxed);
    let leadership = if args.leader_election {
        Some(become_leader(client.clone()).await)
    } else {
        None
    };
    let lost = Arc::new(AtomicBool::new(false));
    let stop = {
        let lost = lost.clone();
        async move {
            tokio::select! {
                _ = shutdown_signal() => {}
                _ = leadership_lost(leadership) => lost.store(true, Ordering::Relaxed),
            }
        }
    };
    let managed = watcher::Config::default().labels("app.kubernetes.io/managed-by=tabula-operator");
    tracing::info!("watching Tables in all namespaces");
    Controller::new(
        Api::<Table>::all(client.clone()),
        watcher::Config::default(),
    )
    .owns(Api::<StatefulSet>::all(client), managed)
    .graceful_shutdown_on(stop)
    .run(reconcile, error_policy, ctx)
    .for_each(|result| async move {
        match result {
            Ok((obj, _)) => tracing::debug!(table = %obj.name, "reconciled"),
            Err(e) => tracing::debug!(error = %e, "reconcile did not complete"),
        }
    })
    .await;
    if lost.load(Ordering::Relaxed) {
        // Another replica leads now; restarting makes this one a standby again.
        tracing::error!("lost the leader Lease: stopping");
        std::process::exit(1);
    }
    tracing::info!("stopped");
}

/// Waits until this replica holds the `tabula-operator` Lease (kube-lease-manager renews it in
/// the background) and returns the channel that reports its loss.
async fn become_leader(client: Client) -> tokio::sync::watch::Receiver<bool> {
    let namespace = std::env::var("POD_NAMESPACE").unwrap_or_else(|_| "default".into());
    let identity = std::env::var("POD_NAME").unwrap_or_else(|_| "tabula-operator".into());
    let manager = match LeaseManagerBuilder::new(client, "tabula-operator")
        .with_namespace(&namespace)
        .with_identity(&identity)
        .with_duration(15)
        .with_grace(5)
        .build()
        .await
    {
        Ok(m) => m,
        Err(e) => {
            eprintln!("tabula-operator: cannot set up leader election in {namespace}: {e}");
            std::process::exit(1);
        }
    };
    let (mut leader, _task) = manager.watch().await;
    tracing::info!(%identity, %namespace, "waiting for the leader Lease");
    while !*leader.borrow_and_update() {
        if leader.changed().await.is_err() {
            eprintln!("tabula-operator: leader election stopped");
            std::process::exit(1);
        }
    }
    tracing::info!(%identity, "leading");
    leader
}

/// Completes when leadership is lost; never without leader election.
async fn leadership_lost(leadership: Option<tokio::sync::watch::Receiver<bool>>) {
    let Some(mut leader) = leadership else {
        return std::future::pending().await;
    };
    while *leader.borrow_and_update() {
        if leader.changed().await.is_err() {
            return;
        }
    }
}

async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot install the SIGTERM handler");
            return std::future::pending().await;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
}

/// `/metrics` (Prometheus text), `/healthz` (the process answers), `/readyz` (the controller
/// has started).
async fn serve_http(listener: tokio::net::TcpListener, metrics: Metrics, ready: Arc<AtomicBool>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let metrics = metrics.clone();
        let ready = ready.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let (status, body) = match req.uri().path() {
                    "/metrics" => (200, metrics.render()),
                    "/healthz" => (200, "ok".to_string()),
                    "/readyz" if ready.load(Ordering::Relaxed) => (200, "ok".to_string()),
                    "/readyz" => (503, "starting".to_string()),
                    _ => (404, "not found".to_string()),
                };
                async move {
                    let mut resp = hyper::Response::new(Full::new(Bytes::from(body)));
                    *resp.status_mut() =
                        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
                    Ok::<_, Infallible>(resp)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
