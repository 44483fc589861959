//! Accept mode off: drop packets addressed to the virtual addresses (RFC 9568 §6.4.3).
//!
//! Owns the nftables table `inet floatip`: two sets (`block4`, `block6`) of addresses to
//! drop on input, rewritten atomically from the daemon's view of which non-owner masters
//! with accept mode off hold which addresses. Uses the `nft` command. Must not decide
//! when to block: the state machine says so with `Action::BlockAddressTraffic`.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::process::Stdio;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// The ruleset that removes the table (whether or not it exists).
pub fn remove_script() -> &'static str {
    // `add` then `delete` makes the delete succeed either way.
    "add table inet floatip\ndelete table inet floatip\n"
}

/// The ruleset that makes the table hold exactly `blocked`, creating it if needed.
pub fn sync_script(blocked: &BTreeSet<IpAddr>) -> String {
    let mut s = String::from(
        "add table inet floatip\n\
         add set inet floatip block4 { type ipv4_addr; }\n\
         add set inet floatip block6 { type ipv6_addr; }\n\
         add chain inet floatip input { type filter hook input priority filter - 10; policy accept; }\n\
         flush chain inet floatip input\n\
         add rule inet floatip input ip daddr @block4 drop\n\
         add rule inet floatip input ip6 daddr @block6 drop\n\
         flush set inet floatip block4\n\
         flush set inet floatip block6\n",
    );
    for addr in blocked {
        let set = if addr.is_ipv4() { "block4" } else { "block6" };
        let _ = writeln!(s, "add element inet floatip {set} {{ {addr} }}");
    }
    s
}

/// Apply a ruleset with `nft -f -` (one atomic transaction).
pub async fn apply(script: &str) -> std::io::Result<()> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(script.as_bytes()).await?;
    }
    let output = child.wait_with_output().await?;
    if output.status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "nft failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_script_lists_each_address_in_its_family_set() {
        let blocked: BTreeSet<IpAddr> = ["192.0.2.100", "2001:db8::100"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        let script = sync_script(&blocked);
        assert!(script.contains("add element inet floatip block4 { 192.0.2.100 }\n"));
        assert!(script.contains("add element inet floatip block6 { 2001:db8::100 }\n"));
        assert!(script.contains("flush set inet floatip block4\n"));
        let empty = sync_script(&BTreeSet::new());
        assert!(!empty.contains("add element"));
    }
}
