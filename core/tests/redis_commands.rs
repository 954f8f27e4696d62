//! `RedisCommands` against a real redis-server (started here on a free port): a burst of
//! synchronous waits — what a thousand clients dropping at once cause in a cluster — all get
//! their answers, in issue order, without starving the runtime they block on.

use std::sync::Arc;
use std::time::Duration;

use roomcast::adapters::redis::commands::RedisCommands;

mod common;
use common::start_redis;

/// Runs `burst` on a 2-worker runtime of its own thread and waits for it from this one: a
/// deadlocked runtime cannot fire its own timers, so the deadline is kept out here.
fn within<T: Send + 'static>(
    limit: Duration,
    burst: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let _ = tx.send(runtime.block_on(burst));
    });
    rx.recv_timeout(limit)
        .expect("the burst finished (no starved runtime)")
}

#[test]
fn two_thousand_concurrent_waits_all_get_their_answer() {
    let redis = start_redis();
    let url = redis.url.clone();
    let (answered, total) = within(Duration::from_secs(60), async move {
        let commands = Arc::new(RedisCommands::new(&url).unwrap());
        // A slow Redis for a moment: the waiters pile up behind it, as they do when a thousand
        // clients drop at once and each saves its session.
        commands.send(redis::cmd("DEBUG").arg("SLEEP").arg("0.5").clone());
        let waiters: Vec<_> = (0..2000)
            .map(|_| {
                let commands = commands.clone();
                tokio::spawn(async move {
                    commands.wait::<i64>(redis::cmd("INCRBY").arg("burst").arg(1).clone())
                })
            })
            .collect();
        let mut answered = 0;
        for waiter in waiters {
            answered += waiter.await.unwrap().is_some() as usize;
        }
        let total: i64 = commands
            .run(redis::cmd("GET").arg("burst").clone())
            .await
            .unwrap();
        (answered, total)
    });
    assert_eq!(answered, 2000);
    assert_eq!(total, 2000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_sent_without_waiting_keep_their_order() {
    let redis = start_redis();
    let commands = RedisCommands::new(&redis.url).unwrap();
    for i in 0..500 {
        commands.send(redis::cmd("SET").arg("last").arg(i).clone());
    }
    // Issued after the sends, so it reads the last of them.
    let last: i64 = commands
        .run(redis::cmd("GET").arg("last").clone())
        .await
        .unwrap();
    assert_eq!(last, 499);
    // A synchronous wait from outside any runtime works too (a host thread).
    let commands = Arc::new(commands);
    let from_host = {
        let commands = commands.clone();
        std::thread::spawn(move || commands.wait::<String>(redis::cmd("PING")))
    };
    assert_eq!(from_host.join().unwrap().as_deref(), Some("PONG"));
}
