// find_connection_socket / peer_closed on a real loopback TCP connection.
#include "gearbox/serve/server/peer_socket.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace gearbox::serve::server {
namespace {

int port_of(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

// Waits (bounded, 5 s) until peer_closed(fd) equals `want`.
bool becomes(int fd, bool want) {
  for (int i = 0; i < 500; ++i) {
    if (peer_closed(fd) == want) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TEST(PeerSocket, FindsTheAcceptedSocketAndSeesTheClientHangUp) {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  const int server_port = port_of(listener);
  addr.sin_port = htons(static_cast<std::uint16_t>(server_port));

  const int client = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const int accepted = ::accept(listener, nullptr, nullptr);
  ASSERT_GE(accepted, 0);
  const int client_port = port_of(client);

  // The accepted end, not the client's end (whose peer port is the server's).
  EXPECT_EQ(find_connection_socket("127.0.0.1", client_port, server_port), accepted);
  EXPECT_EQ(find_connection_socket("127.0.0.1", client_port, server_port + 1), -1);
  EXPECT_EQ(find_connection_socket("127.0.0.2", client_port, server_port), -1);

  EXPECT_FALSE(peer_closed(accepted));
  ASSERT_EQ(::send(client, "x", 1, 0), 1);  // more bytes from a live client: still open
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(peer_closed(accepted));
  ::close(client);
  EXPECT_TRUE(becomes(accepted, true));  // the unread byte does not hide the end of stream
  ::close(accepted);
  ::close(listener);
}

}  // namespace
}  // namespace gearbox::serve::server
