// File: src/api/http_session.h
//
// Internal to the api part: one HTTP/1.1 connection (Boost.Beast). It reads a request's headers first —
// bounded by max_header_bytes and header_timeout, so a slow or oversized client is dropped early — then
// decides the body limit from the route (413 before reading a byte of an oversized body), refuses bad
// framing (400 and close), lets App::Screen decide auth, rate limit and origin from the headers (401 / 429 /
// 403 without reading the body), answers `Expect: 100-continue` only after all that, reads the body within
// body_timeout (an upload's into an unlinked temporary file in files_dir, not memory), hands
// the request to App::Handle and writes the response. Keep-alive connections wait idle_timeout for the
// next request. An Upgrade: websocket request is authorised by App::AuthorizeWatch and handed over to a
// WsSession with the socket.
//
// Strand: every handler runs on the connection's strand (the socket's executor); Shutdown posts to it.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "api/http_types.h"
#include "api/server_state.h"
#include "api/sessions.h"

namespace wasmq::api {

// Starts serving an accepted connection. `slot` is its reserved place in state.sessions. `metrics_only`: the
// connection came to config.metrics_addr, and gets /metrics alone (which the main address then lacks).
void StartHttpSession(boost::asio::ip::tcp::socket socket, ServerState& state, Slot slot,
                      bool metrics_only = false);

// The plain Request the App sees, from a parsed Beast request (its body is moved out): header names
// lower-cased, the target split into path and query. Shared with the fuzzer, which feeds the App the same way.
Request ToRequest(boost::beast::http::request<boost::beast::http::string_body>& msg, const std::string& remote);
// The same without the body, once the header is in (for App::Screen).
Request ToRequestHead(const boost::beast::http::request_header<>& msg, const std::string& remote);

// Why the request's framing is refused (400, then close), or empty: a Transfer-Encoding whose last coding
// is not chunked (RFC 9112 §6.3).
std::string_view BadFraming(const boost::beast::http::fields& headers);

}  // namespace wasmq::api
