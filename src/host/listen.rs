//! The listening socket of a fake server or a proxy.

use std::net::SocketAddr;

/// Binds a non-blocking TCP listener with `SO_REUSEADDR`, as Redis does, so
/// that a server restarted on the same port can bind while its old
/// connections sit in TIME_WAIT, and with `TCP_NODELAY`, which Linux copies
/// to every accepted socket (one system call per server, not per client).
pub(crate) fn bind_reusable(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    #[cfg(target_os = "linux")]
    let ty = socket2::Type::STREAM.nonblocking();
    #[cfg(not(target_os = "linux"))]
    let ty = socket2::Type::STREAM;
    let socket = socket2::Socket::new(socket2::Domain::for_address(addr), ty, None)?;
    // Even on port 0: a server restarted on this port (chaos restarts,
    // `bind(addr)` of a dropped server) only binds past the TIME_WAIT
    // sockets this one leaves if both have it.
    socket.set_reuse_address(true)?;
    socket.set_tcp_nodelay(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    #[cfg(not(target_os = "linux"))]
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both front ends bind here; the proxy once had its own bind without
    /// `SO_REUSEADDR`, so a proxy restarted on its port could not bind while
    /// the old one's connections sat in TIME_WAIT.
    #[test]
    fn the_listener_reuses_addresses() {
        let l = bind_reusable(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
        let s = socket2::SockRef::from(&l);
        assert!(s.reuse_address().unwrap());
        assert!(s.tcp_nodelay().unwrap());
    }
}
