// File: src/api/ws_session.h
//
// Internal to the api part: one WebSocket watcher (Boost.Beast). Message formats are in docs/api.md.
//
// On connect it registers with the WatchHub *first* and holds what arrives, then reads the current state
// from the store and sends it as a "snapshot" message, then the held events that are newer than the
// snapshot, then every event as it comes — so a watcher that connects late misses nothing and sees nothing
// out of order. A task watcher's connection is closed (1000) once its task is finished.
//
// Bounded: at most kMaxQueued messages wait to be sent; a progress event replaces an unsent progress event
// of the same task (a watcher wants the latest percentage, not every one), and a watcher that still falls
// that far behind is closed with 1008 so that it cannot hold memory. Incoming messages are read (pings,
// close) and ignored, each at most 4 KiB. Beast's idle timeout with keep-alive pings drops a dead peer.
//
// Strand: everything runs on the connection's strand; Deliver and Shutdown post to it.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "api/app.h"
#include "api/server_state.h"
#include "api/sessions.h"

namespace wasmq::api {

inline constexpr size_t kMaxQueued = 1024;

// Completes the handshake for `request` on `socket` and starts streaming `target`.
void StartWsSession(boost::asio::ip::tcp::socket socket,
                    boost::beast::http::request<boost::beast::http::string_body> request, ServerState& state,
                    Slot slot, WatchTarget target);

}  // namespace wasmq::api
