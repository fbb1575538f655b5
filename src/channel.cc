#include "channel.h"

#include <event2/buffer.h>

bool Channel::on_data(evbuffer* src, size_t n, std::string&) {
  evbuffer_drain(src, n);
  return true;
}

bool Channel::on_eof(std::string&) { return true; }

bool Channel::on_window(uint32_t, std::string&) { return true; }

bool Channel::on_open_ok(uint32_t, uint32_t, std::string&) { return true; }

void Channel::on_datagram(const uint8_t*, size_t) {}
