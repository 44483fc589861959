//! A real HAProxy (Debian's) in a load balancer's namespace: it answers HTTP on port 80
//! of every address (so on the VIP while the node holds it) with the node's role as the
//! body.

use std::time::Duration;

use super::{Daemon, Node, require_tool};

impl Node {
    /// Starts HAProxy in the foreground (`-db`: one process, no daemon), waits until it
    /// answers on port 80 of the loopback address.
    pub fn start_haproxy(&self) -> Daemon {
        require_tool("haproxy", "haproxy");
        let config = format!(
            "global\n  maxconn 1000\n\
             defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
             frontend web\n  bind :80\n  http-request return status 200 content-type text/plain string \"{role}\"\n",
            role = self.role
        );
        let path = self.shared.dir.join(format!("haproxy-{}.cfg", self.role));
        std::fs::write(&path, config).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        let path = path.to_str().expect("utf-8 path").to_string();
        let daemon = self.spawn_process(&["haproxy", "-db", "-f", &path]);
        super::wait_for(Duration::from_secs(5), || {
            self.exec(&["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/80"])
                .status
                .success()
        })
        .unwrap_or_else(|e| {
            panic!(
                "HAProxy in {} not listening on port 80: {e}\n{}",
                self.ns,
                daemon.log()
            )
        });
        daemon
    }
}
