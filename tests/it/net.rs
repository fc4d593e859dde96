//! The network layer (`wxc_preflight::net`) against real peers on loopback
//! that each test starts and stops: Squid, a DNS server, TLS origins.

mod checks;
mod client;
mod dns;
mod figures;
mod proxy;
mod rig;
mod tls;
