// Unit tests for per-stream credit accounting (src/flow.{h,cc};
// docs/PROTOCOL.md "Data and flow control").
#include "flow.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <random>

#include "frame.h"

// ---------------------------------------------------------------------------
// SendCredit

TEST(SendCredit, StartsWithInitialWindow) {
  EXPECT_EQ(0u, SendCredit().available());
  EXPECT_EQ(1048576u, SendCredit(1048576).available());
}

TEST(SendCredit, ConsumeAndGrant) {
  SendCredit c(1000);
  c.consume(400);
  EXPECT_EQ(600u, c.available());
  c.consume(600);
  EXPECT_EQ(0u, c.available());
  EXPECT_TRUE(c.grant(250));
  EXPECT_EQ(250u, c.available());
  EXPECT_TRUE(c.grant(750));
  EXPECT_EQ(1000u, c.available());
  c.consume(0);
  EXPECT_EQ(1000u, c.available());
}

TEST(SendCredit, GrantZeroRefused) {
  SendCredit c(10);
  EXPECT_FALSE(c.grant(0));
  EXPECT_EQ(10u, c.available());
  SendCredit empty;
  EXPECT_FALSE(empty.grant(0));
  EXPECT_EQ(0u, empty.available());
}

TEST(SendCredit, GrantUpToMaxWindowAllowed) {
  SendCredit c(0);
  EXPECT_TRUE(c.grant(frame::kMaxWindow));
  EXPECT_EQ(frame::kMaxWindow, c.available());

  SendCredit d(100);
  EXPECT_TRUE(d.grant(frame::kMaxWindow - 100));
  EXPECT_EQ(frame::kMaxWindow, d.available());
}

TEST(SendCredit, OverflowBeyondMaxWindowRefused) {
  SendCredit c(frame::kMaxWindow - 10);
  EXPECT_FALSE(c.grant(11));
  EXPECT_EQ(frame::kMaxWindow - 10, c.available());
  EXPECT_TRUE(c.grant(10));
  EXPECT_FALSE(c.grant(1));
  EXPECT_EQ(frame::kMaxWindow, c.available());

  // Increments that would wrap a 32-bit counter are refused too.
  SendCredit d(5);
  EXPECT_FALSE(d.grant(0xffffffffu));
  EXPECT_FALSE(d.grant(0xfffffffbu));  // 5 + this == 2^32 exactly
  EXPECT_FALSE(d.grant(frame::kMaxWindow));
  EXPECT_EQ(5u, d.available());
}

TEST(SendCredit, GrantAfterConsumeReopensRoom) {
  SendCredit c(frame::kMaxWindow);
  EXPECT_FALSE(c.grant(1));
  c.consume(65536);
  EXPECT_TRUE(c.grant(65536));
  EXPECT_EQ(frame::kMaxWindow, c.available());
}

// ---------------------------------------------------------------------------
// RecvWindow

TEST(RecvWindow, Initial) {
  RecvWindow w(1000);
  EXPECT_EQ(1000u, w.window());
  EXPECT_EQ(1000u, w.peer_credit());
  EXPECT_EQ(0u, w.buffered());
  EXPECT_EQ(0u, w.take_update(true));
  EXPECT_EQ(0u, w.take_update(false));
}

TEST(RecvWindow, DataWithinCredit) {
  RecvWindow w(1000);
  EXPECT_TRUE(w.on_data(300));
  EXPECT_EQ(700u, w.peer_credit());
  EXPECT_EQ(300u, w.buffered());
  EXPECT_TRUE(w.on_data(1));
  EXPECT_EQ(699u, w.peer_credit());
  EXPECT_EQ(301u, w.buffered());
}

TEST(RecvWindow, DataExactlyAtCreditAllowed) {
  RecvWindow w(1000);
  EXPECT_TRUE(w.on_data(1000));
  EXPECT_EQ(0u, w.peer_credit());
  EXPECT_EQ(1000u, w.buffered());

  RecvWindow v(1000);
  EXPECT_TRUE(v.on_data(400));
  EXPECT_TRUE(v.on_data(600));
  EXPECT_EQ(0u, v.peer_credit());
}

TEST(RecvWindow, DataBeyondCreditRefused) {
  RecvWindow w(1000);
  EXPECT_FALSE(w.on_data(1001));
  // A refused frame changes nothing.
  EXPECT_EQ(1000u, w.peer_credit());
  EXPECT_EQ(0u, w.buffered());

  EXPECT_TRUE(w.on_data(999));
  EXPECT_FALSE(w.on_data(2));
  EXPECT_EQ(1u, w.peer_credit());
  EXPECT_EQ(999u, w.buffered());
  EXPECT_TRUE(w.on_data(1));
  EXPECT_FALSE(w.on_data(1));

  RecvWindow big(frame::kMaxWindow);
  EXPECT_FALSE(big.on_data(static_cast<size_t>(frame::kMaxWindow) + 1));
  EXPECT_FALSE(big.on_data(SIZE_MAX));
  EXPECT_EQ(frame::kMaxWindow, big.peer_credit());
}

TEST(RecvWindow, NoCreditForUndeliveredBytes) {
  RecvWindow w(1000);
  ASSERT_TRUE(w.on_data(1000));
  // Queued, not written to the local socket: nothing to give back, even on flush.
  EXPECT_EQ(0u, w.take_update(false));
  EXPECT_EQ(0u, w.take_update(true));
  EXPECT_EQ(0u, w.peer_credit());
  EXPECT_FALSE(w.on_data(1));

  w.on_delivered(100);
  EXPECT_EQ(900u, w.buffered());
  EXPECT_EQ(100u, w.take_update(true));
  EXPECT_EQ(100u, w.peer_credit());
  // Still nothing for the 900 that are only queued.
  EXPECT_EQ(0u, w.take_update(true));
  EXPECT_FALSE(w.on_data(101));
  EXPECT_TRUE(w.on_data(100));
}

TEST(RecvWindow, SmallUpdatesBatchedUntilQuarterWindow) {
  RecvWindow w(1000);  // quarter = 250
  ASSERT_TRUE(w.on_data(1000));
  w.on_delivered(100);
  EXPECT_EQ(0u, w.take_update(false));
  w.on_delivered(149);
  EXPECT_EQ(0u, w.take_update(false));  // 249 owed: still under a quarter
  EXPECT_EQ(0u, w.peer_credit());
  w.on_delivered(1);
  EXPECT_EQ(250u, w.take_update(false));  // exactly a quarter is announced
  EXPECT_EQ(250u, w.peer_credit());
  EXPECT_EQ(0u, w.take_update(false));
  w.on_delivered(600);
  EXPECT_EQ(600u, w.take_update(false));
  EXPECT_EQ(850u, w.peer_credit());
}

TEST(RecvWindow, FlushReturnsEverythingOwed) {
  RecvWindow w(1u << 20);
  ASSERT_TRUE(w.on_data(5000));
  w.on_delivered(1);
  EXPECT_EQ(0u, w.take_update(false));
  EXPECT_EQ(1u, w.take_update(true));
  w.on_delivered(2000);
  w.on_delivered(2999);
  EXPECT_EQ(0u, w.take_update(false));
  EXPECT_EQ(4999u, w.take_update(true));
  EXPECT_EQ(0u, w.take_update(true));
  EXPECT_EQ(1u << 20, w.peer_credit());
  EXPECT_EQ(0u, w.buffered());
}

TEST(RecvWindow, LimitAnnouncesInStepsAndKeepsTheRestOwed) {
  RecvWindow w(1 << 20);
  ASSERT_TRUE(w.on_data(300000));
  w.on_delivered(300000);
  EXPECT_EQ(65536u, w.take_update(true, 65536));
  EXPECT_EQ(65536u, w.take_update(false, 65536));  // a full step is worth sending unflushed
  EXPECT_EQ(300000u - 2 * 65536u, w.take_update(true));
  EXPECT_EQ(0u, w.take_update(true, 65536));
  EXPECT_EQ(uint32_t{1 << 20}, w.peer_credit());
}

TEST(RecvWindow, PeerCreditRestoredAfterUpdate) {
  RecvWindow w(4096);
  ASSERT_TRUE(w.on_data(4096));
  w.on_delivered(4096);
  EXPECT_EQ(0u, w.peer_credit());
  EXPECT_EQ(4096u, w.take_update(false));
  EXPECT_EQ(4096u, w.peer_credit());
  EXPECT_EQ(0u, w.buffered());
  // The whole window is usable again.
  EXPECT_TRUE(w.on_data(4096));
  EXPECT_FALSE(w.on_data(1));
}

TEST(RecvWindow, DeliveredMoreThanBufferedIsClamped) {
  RecvWindow w(1000);
  ASSERT_TRUE(w.on_data(10));
  w.on_delivered(50);
  EXPECT_EQ(0u, w.buffered());
  EXPECT_EQ(10u, w.take_update(true));
  EXPECT_EQ(1000u, w.peer_credit());
  w.on_delivered(5);  // nothing buffered: no credit out of thin air
  EXPECT_EQ(0u, w.take_update(true));
  EXPECT_EQ(1000u, w.peer_credit());
}

TEST(RecvWindow, TinyWindowAlwaysAnnounces) {
  RecvWindow w(3);  // window/4 == 0
  ASSERT_TRUE(w.on_data(3));
  w.on_delivered(1);
  EXPECT_EQ(1u, w.take_update(false));
}

// ---------------------------------------------------------------------------
// A sender and a receiver exchanging DATA and WINDOW through two in-order
// "wires", with random chunk sizes and random delivery to the local socket.

namespace {

struct TransferStats {
  uint64_t moved = 0;
  uint64_t updates = 0;
  uint64_t max_in_flight = 0;
};

void simulate(uint32_t window, uint64_t total, uint32_t seed, TransferStats& st) {
  std::mt19937 rng(seed);
  SendCredit sender(window);
  RecvWindow receiver(window);
  std::deque<uint32_t> data_wire;    // DATA payload sizes, sender -> receiver
  std::deque<uint32_t> window_wire;  // WINDOW increments, receiver -> sender
  uint64_t sent = 0, received = 0, delivered = 0;
  uint64_t credit_returned = 0;  // WINDOW increments the sender has applied
  uint64_t on_window_wire = 0;   // WINDOW increments announced, not yet applied
  uint64_t steps = 0;

  while (delivered < total) {
    ASSERT_LT(++steps, 50'000'000u) << "transfer stalled at " << delivered << " of " << total;
    switch (rng() % 4) {
      case 0: {  // sender writes one DATA frame, if it has credit
        uint64_t left = total - sent;
        uint64_t can = std::min<uint64_t>({sender.available(), left, frame::kMaxPayload});
        if (can == 0) break;
        size_t n = static_cast<size_t>(1 + rng() % can);
        sender.consume(n);
        data_wire.push_back(static_cast<uint32_t>(n));
        sent += n;
        break;
      }
      case 1: {  // receiver reads one DATA frame off the channel
        if (data_wire.empty()) break;
        uint32_t n = data_wire.front();
        data_wire.pop_front();
        ASSERT_TRUE(receiver.on_data(n)) << "DATA beyond granted credit: " << n << " > "
                                         << receiver.peer_credit();
        received += n;
        break;
      }
      case 2: {  // receiver writes part of its buffer to the local socket
        if (receiver.buffered() == 0) break;
        size_t n = 1 + rng() % receiver.buffered();
        receiver.on_delivered(n);
        delivered += n;
        // Flush when the local socket's output ran empty, as a stream does.
        uint32_t inc = receiver.take_update(receiver.buffered() == 0);
        if (inc) {
          window_wire.push_back(inc);
          on_window_wire += inc;
          ++st.updates;
        }
        break;
      }
      case 3: {  // sender reads one WINDOW frame
        if (window_wire.empty()) break;
        uint32_t inc = window_wire.front();
        window_wire.pop_front();
        ASSERT_TRUE(sender.grant(inc)) << "WINDOW overflowed the sender";
        credit_returned += inc;
        on_window_wire -= inc;
        break;
      }
    }
    // Bytes sent whose credit has not come back yet never exceed the window.
    uint64_t in_flight = sent - credit_returned;
    ASSERT_LE(in_flight, window);
    ASSERT_EQ(window - sender.available(), in_flight);
    // What the daemon holds (on the wire to it plus queued in it) is bounded too.
    ASSERT_LE(sent - delivered, window);
    ASSERT_EQ(received - delivered, receiver.buffered());
    // Receiver side: credit the peer still has, bytes queued and credit owed
    // (delivered but not yet announced) always add up to the window.
    uint64_t owed = delivered - credit_returned - on_window_wire;
    ASSERT_EQ(uint64_t{window}, receiver.peer_credit() + receiver.buffered() + owed);
    st.max_in_flight = std::max(st.max_in_flight, in_flight);
  }
  ASSERT_EQ(total, sent);
  ASSERT_EQ(total, received);
  ASSERT_EQ(total, delivered);
  ASSERT_TRUE(data_wire.empty());
  st.moved = delivered;
}

}  // namespace

TEST(FlowSimulation, HundredMiBWithDefaultWindow) {
  TransferStats st;
  const uint32_t window = 1u << 20;
  simulate(window, 100ull << 20, 12345, st);
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_EQ(100ull << 20, st.moved);
  EXPECT_LE(st.max_in_flight, window);
  // The sender must have come close to the limit at times, otherwise the
  // bound above was never put to the test.
  EXPECT_GE(st.max_in_flight, window / 2);
  EXPECT_GT(st.updates, 100u);
}

TEST(FlowSimulation, SmallWindowsManySeeds) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE(seed);
    for (uint32_t window : {1u, 7u, 4096u, 65536u}) {
      SCOPED_TRACE(window);
      uint64_t total = std::min<uint64_t>(1u << 20, uint64_t{window} * 2000);
      TransferStats st;
      simulate(window, total, seed, st);
      if (HasFatalFailure()) return;
      EXPECT_EQ(total, st.moved);
      EXPECT_LE(st.max_in_flight, window);
      EXPECT_GE(st.max_in_flight, (window + 1) / 2);
    }
  }
}

// ---------------------------------------------------------------------------
// RecvWindow before OPEN_OK (client side: the early-data window)

TEST(RecvWindowEarly, LimitedToEarlyWindowUntilAnnounced) {
  RecvWindow w(1u << 20);
  w.limit_to_early(frame::kEarlyWindow);
  EXPECT_TRUE(w.early());
  EXPECT_EQ(frame::kEarlyWindow, w.peer_credit());
  EXPECT_EQ(1u << 20, w.window());  // what OPEN_OK will announce
  EXPECT_TRUE(w.on_data(65000));
  EXPECT_TRUE(w.on_data(536));       // exactly 65,536
  EXPECT_FALSE(w.on_data(1));        // one byte beyond the early window
  EXPECT_EQ(0u, w.peer_credit());
}

TEST(RecvWindowEarly, OneFrameBeyondRefusedWhole) {
  RecvWindow w(1u << 20);
  w.limit_to_early(frame::kEarlyWindow);
  EXPECT_TRUE(w.on_data(40000));
  EXPECT_FALSE(w.on_data(30000));
  EXPECT_EQ(frame::kEarlyWindow - 40000, w.peer_credit());  // unchanged by the refusal
}

TEST(RecvWindowEarly, AnnounceCountsTheEarlyData) {
  RecvWindow w(1u << 20);
  w.limit_to_early(frame::kEarlyWindow);
  EXPECT_TRUE(w.on_data(10000));
  w.announce();
  EXPECT_FALSE(w.early());
  // OPEN_OK(W): W in total, the 10,000 early bytes included.
  EXPECT_EQ((1u << 20) - 10000, w.peer_credit());
  EXPECT_TRUE(w.on_data((1u << 20) - 10000));
  EXPECT_FALSE(w.on_data(1));
}

TEST(RecvWindowEarly, AnnounceWithoutEarlyData) {
  RecvWindow w(1u << 20);
  w.limit_to_early(frame::kEarlyWindow);
  w.announce();
  EXPECT_EQ(1u << 20, w.peer_credit());
  w.announce();  // idempotent
  EXPECT_EQ(1u << 20, w.peer_credit());
}

TEST(RecvWindowEarly, FullEarlyWindowThenAnnounce) {
  RecvWindow w(1u << 20);
  w.limit_to_early(frame::kEarlyWindow);
  EXPECT_TRUE(w.on_data(frame::kEarlyWindow));
  w.announce();
  EXPECT_EQ((1u << 20) - frame::kEarlyWindow, w.peer_credit());
  EXPECT_EQ(frame::kEarlyWindow, w.buffered());
}

TEST(RecvWindowEarly, WindowNoLargerThanEarlyNeedsNoLimit) {
  RecvWindow w(frame::kEarlyWindow);
  w.limit_to_early(frame::kEarlyWindow);
  EXPECT_FALSE(w.early());
  EXPECT_EQ(frame::kEarlyWindow, w.peer_credit());
  w.announce();
  EXPECT_EQ(frame::kEarlyWindow, w.peer_credit());
}

TEST(RecvWindowEarly, CreditReturnedAfterAnnounce) {
  RecvWindow w(1u << 20);
  w.limit_to_early(frame::kEarlyWindow);
  EXPECT_TRUE(w.on_data(frame::kEarlyWindow));
  w.announce();
  w.on_delivered(frame::kEarlyWindow);
  EXPECT_EQ(frame::kEarlyWindow, w.take_update(true));
  EXPECT_EQ(1u << 20, w.peer_credit());
}

TEST(RecvWindowEarly, ServerWindowUnlimitedWithoutCall) {
  // The server announces its window in OPEN: full credit from the start.
  RecvWindow w(1u << 20);
  EXPECT_FALSE(w.early());
  EXPECT_TRUE(w.on_data(1u << 20));
}

// ---------------------------------------------------------------------------
// RecvWindow::grow (window auto-tuning)

TEST(RecvWindow, GrowthIsOwedAsCredit) {
  RecvWindow w(1u << 20);
  ASSERT_TRUE(w.on_data(1u << 20));
  EXPECT_FALSE(w.on_data(1));
  w.grow(1u << 20);
  EXPECT_EQ(2u << 20, w.window());
  // Nothing delivered yet, but the growth alone is more than a quarter.
  EXPECT_EQ(1u << 20, w.take_update(false));
  EXPECT_EQ(1u << 20, w.peer_credit());
  EXPECT_TRUE(w.on_data(1u << 20));
  EXPECT_FALSE(w.on_data(1));
  // The receiver still holds at most the window.
  EXPECT_EQ(2u << 20, w.buffered());
  w.on_delivered(2u << 20);
  EXPECT_EQ(2u << 20, w.take_update(false));
  EXPECT_EQ(2u << 20, w.peer_credit());
}
