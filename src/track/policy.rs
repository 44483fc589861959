//! The pure health policy: rise/fall counters, weights to priority, Fault gating.
