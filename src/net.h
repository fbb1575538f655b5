// Small socket helpers shared by the server and the client.
#pragma once

#include <string>

#include <event2/util.h>

void set_nodelay(evutil_socket_t fd);
void set_keepalive(evutil_socket_t fd);
// Makes the next close() send an RST instead of a FIN: used when a stream is
// aborted, so a truncated transfer is never mistaken for a complete one.
void set_abortive_close(evutil_socket_t fd);
std::string peer_name(evutil_socket_t fd);
std::string local_name(evutil_socket_t fd);
