// Connection liveness for HTTP handlers. cpp-httplib 0.11 gives a handler no way to learn that
// its client hung up before the handler writes (a non-streaming request only writes at the
// end), so the server finds the connection's socket from the request's addresses and polls it.
// Linux only (reads /proc/self/fd).
#pragma once

#include <string>

namespace gearbox::serve::server {

// The descriptor of this process's connected TCP socket whose peer is remote_addr:remote_port
// (numeric address, as httplib fills Request::remote_addr) and whose local port is
// local_port; -1 when there is none (or /proc/self/fd cannot be read).
int find_connection_socket(const std::string& remote_addr, int remote_port, int local_port);

// True when the peer of connected socket `fd` has closed or reset the connection: end of
// stream or an error is pending (a peer that only shut down its sending side counts as gone,
// as nginx counts it). False while it is open, including when the peer sent further bytes (a
// pipelined request), which are left unread. Never blocks.
bool peer_closed(int fd);

}  // namespace gearbox::serve::server
