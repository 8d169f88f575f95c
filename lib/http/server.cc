#include "http/server.h"

#include <openssl/ssl.h>
#include <sys/stat.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <mutex>
#include <thread>

#include "log/log.h"

namespace cairn::http {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = boost::asio::ip::tcp;

namespace {

struct FileStamp {
  time_t mtime = 0;
  long nsec = 0;
  off_t size = -1;
  bool operator==(const FileStamp&) const = default;
};

FileStamp stamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  return {st.st_mtim.tv_sec, st.st_mtim.tv_nsec, st.st_size};
}

}  // namespace

struct Server::Impl {
  ServerOptions opts;
  Handler handler;
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  net::steady_timer reload_timer{ioc};
  std::vector<std::thread> threads;
  std::atomic<bool> stopped{false};
  int bound_port = 0;

  std::mutex mu;
  std::shared_ptr<ssl::context> tls;  // guarded by mu; swapped on reload
  FileStamp cert_stamp, key_stamp;    // guarded by mu
  // The last pair that failed to load, and the error reported for it.
  FileStamp bad_cert_stamp, bad_key_stamp;  // guarded by mu
  bool bad_reported = false;                // guarded by mu
  std::string reload_error;                 // guarded by mu

  std::atomic<uint64_t> requests{0}, rejected{0}, tls_failures{0}, reloads{0};
  std::atomic<bool> draining{false};
  std::atomic<int> open_connections{0}, in_flight{0};

  // Counts a connection, or a request being answered, while it lives.
  struct Count {
    std::atomic<int>& n;
    explicit Count(std::atomic<int>& c) : n(c) { n++; }
    ~Count() { n--; }
    Count(const Count&) = delete;
    Count& operator=(const Count&) = delete;
  };

  bool tls_enabled() const { return !opts.cert_file.empty() && !opts.key_file.empty(); }

  std::expected<std::shared_ptr<ssl::context>, std::string> load_tls() {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                     ssl::context::single_dh_use);
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
    boost::system::error_code ec;
    ctx->use_certificate_chain_file(opts.cert_file, ec);
    if (ec)
      return std::unexpected("cannot load certificate " + opts.cert_file + ": " + ec.message());
    ctx->use_private_key_file(opts.key_file, ssl::context::pem, ec);
    if (ec)
      return std::unexpected("cannot load private key " + opts.key_file + ": " + ec.message());
    if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
      return std::unexpected("private key " + opts.key_file + " does not match certificate " +
                             opts.cert_file);
    }
    return ctx;
  }

  std::shared_ptr<ssl::context> current_tls() {
    std::lock_guard lock(mu);
    return tls;
  }

  // Certificates are rotated by writing new files (cert-manager, the chart's
  // hook, a test): pick them up for new connections; keep serving with the
  // old ones if the new pair is unreadable or half-written. A pair that is
  // still bad at the next check (not one caught between its two writes) is
  // reported once, with the cause, until the files change again.
  void check_reload() {
    FileStamp c = stamp(opts.cert_file), k = stamp(opts.key_file);
    {
      std::lock_guard lock(mu);
      if (c == cert_stamp && k == key_stamp) return;
    }
    auto fresh = load_tls();
    std::lock_guard lock(mu);
    if (!fresh) {  // try again at the next check
      if (c != bad_cert_stamp || k != bad_key_stamp) {
        bad_cert_stamp = c;
        bad_key_stamp = k;
        bad_reported = false;
      } else if (!bad_reported) {
        bad_reported = true;
        reload_error = fresh.error();
        log::error("new TLS certificate not loaded; still serving the previous one",
                   {{"error", reload_error},
                    {"fix", "write a certificate and its matching key (PEM) to " + opts.cert_file +
                                " and " + opts.key_file}});
      }
      return;
    }
    tls = *fresh;
    cert_stamp = c;
    key_stamp = k;
    bad_cert_stamp = bad_key_stamp = {};
    bad_reported = false;
    reload_error.clear();
    reloads++;
    log::info("TLS certificate reloaded", {{"cert", opts.cert_file}});
  }

  void schedule_reload() {
    reload_timer.expires_after(opts.reload_check);
    reload_timer.async_wait([this](boost::system::error_code ec) {
      if (ec || stopped) return;
      check_reload();
      schedule_reload();
    });
  }

  Response call(const Request& req) {
    try {
      return handler(req);
    } catch (const std::exception& e) {
      return Response::text(500, std::string("internal error: ") + e.what());
    } catch (...) {
      return Response::text(500, "internal error");
    }
  }

  template <class Stream>
  net::awaitable<void> serve(Stream& stream, beast::tcp_stream& tcp_layer) {
    beast::flat_buffer buffer;
    for (;;) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.body_limit(opts.body_limit);
      parser.header_limit(16 * 1024);
      tcp_layer.expires_after(opts.read_timeout);
      boost::system::error_code ec;
      co_await bhttp::async_read(stream, buffer, parser,
                                 net::redirect_error(net::use_awaitable, ec));
      if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
          ec == net::error::eof || ec == net::error::connection_reset ||
          ec == net::error::operation_aborted) {
        co_return;
      }
      Count answering(in_flight);
      Response resp;
      bool keep_alive = false;
      unsigned version = 11;
      if (ec) {
        rejected++;
        if (ec == bhttp::error::body_limit) {
          resp = Response::text(
              413, "request body exceeds " + std::to_string(opts.body_limit) + " bytes");
        } else {
          resp = Response::text(400, "malformed HTTP request: " + ec.message());
        }
      } else {
        auto& msg = parser.get();
        requests++;
        Request req;
        req.method = std::string(msg.method_string());
        req.target = std::string(msg.target());
        req.path = req.target.substr(0, req.target.find('?'));
        for (const auto& f : msg) {
          std::string name(f.name_string());
          for (auto& ch : name)
            ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
          req.headers[name] = std::string(f.value());
        }
        req.body = std::move(msg.body());
        // Draining: every answer closes its connection, so that the client
        // opens its next one elsewhere (to another replica).
        keep_alive = msg.keep_alive() && !draining;
        version = msg.version();
        resp = call(req);
      }
      bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(resp.status), version};
      res.set(bhttp::field::server, "cairn");
      res.set(bhttp::field::content_type, resp.content_type);
      for (const auto& [k, v] : resp.headers) res.set(k, v);
      res.keep_alive(keep_alive);
      res.body() = std::move(resp.body);
      res.prepare_payload();
      tcp_layer.expires_after(opts.read_timeout);
      co_await bhttp::async_write(stream, res, net::redirect_error(net::use_awaitable, ec));
      if (ec || !keep_alive) co_return;
    }
  }

  net::awaitable<void> session(tcp::socket socket) {
    Count open(open_connections);
    if (!tls_enabled()) {
      beast::tcp_stream stream(std::move(socket));
      co_await serve(stream, stream);
      boost::system::error_code ec;
      stream.socket().shutdown(tcp::socket::shutdown_send, ec);
      co_return;
    }
    auto ctx = current_tls();  // this connection keeps the context it started with
    beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *ctx);
    beast::get_lowest_layer(stream).expires_after(opts.read_timeout);
    boost::system::error_code ec;
    co_await stream.async_handshake(ssl::stream_base::server,
                                    net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      tls_failures++;
      co_return;
    }
    co_await serve(stream, beast::get_lowest_layer(stream));
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
    co_await stream.async_shutdown(net::redirect_error(net::use_awaitable, ec));
  }

  net::awaitable<void> accept_loop() {
    for (;;) {
      boost::system::error_code ec;
      // A strand per connection: with several threads, the timeout handler
      // of a connection's stream (which closes its socket) must not run
      // while the connection's coroutine starts an operation on it.
      tcp::socket socket = co_await acceptor.async_accept(
          net::any_io_executor(net::make_strand(ioc)), net::redirect_error(net::use_awaitable, ec));
      if (ec) {
        if (stopped || ec == net::error::operation_aborted) co_return;
        continue;  // e.g. EMFILE: keep accepting
      }
      socket.set_option(tcp::no_delay(true), ec);
      net::co_spawn(socket.get_executor(), session(std::move(socket)), net::detached);
    }
  }
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

std::expected<std::unique_ptr<Server>, std::string> Server::start(ServerOptions opts,
                                                                  Handler handler) {
  auto impl = std::make_unique<Impl>();
  impl->opts = std::move(opts);
  impl->handler = std::move(handler);
  Impl& s = *impl;
  if (s.opts.cert_file.empty() != s.opts.key_file.empty()) {
    return std::unexpected("TLS needs both a certificate and a key file");
  }
  if (s.tls_enabled()) {
    auto ctx = s.load_tls();
    if (!ctx) return std::unexpected(ctx.error());
    s.tls = *ctx;
    s.cert_stamp = stamp(s.opts.cert_file);
    s.key_stamp = stamp(s.opts.key_file);
  }
  boost::system::error_code ec;
  auto addr = net::ip::make_address(s.opts.address, ec);
  if (ec) return std::unexpected("\"" + s.opts.address + "\" is not an IP address");
  tcp::endpoint ep(addr, static_cast<unsigned short>(s.opts.port));
  s.acceptor.open(ep.protocol(), ec);
  if (!ec) s.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor.bind(ep, ec);
  if (!ec) s.acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return std::unexpected("cannot listen on " + s.opts.address + ":" +
                           std::to_string(s.opts.port) + ": " + ec.message());
  }
  s.bound_port = s.acceptor.local_endpoint().port();
  net::co_spawn(s.ioc, s.accept_loop(), net::detached);
  if (s.tls_enabled()) s.schedule_reload();
  for (int i = 0; i < std::max(1, s.opts.threads); ++i) {
    s.threads.emplace_back([&s] { s.ioc.run(); });
  }
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::~Server() { stop(); }

void Server::stop() {
  if (!impl_ || impl_->stopped.exchange(true)) return;
  net::post(impl_->ioc, [this] {
    boost::system::error_code ec;
    impl_->acceptor.close(ec);
    impl_->reload_timer.cancel();
  });
  impl_->ioc.stop();
  for (auto& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
}

void Server::drain() {
  if (!impl_->draining.exchange(true))
    log::info("draining: every answer now closes its connection");
}

bool Server::wait_answered(std::chrono::milliseconds limit) {
  for (const auto until = std::chrono::steady_clock::now() + limit; impl_->in_flight > 0;) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

int Server::open_connections() const { return impl_->open_connections; }

int Server::port() const { return impl_->bound_port; }
uint64_t Server::requests() const { return impl_->requests; }
uint64_t Server::rejected() const { return impl_->rejected; }
uint64_t Server::tls_failures() const { return impl_->tls_failures; }
uint64_t Server::cert_reloads() const { return impl_->reloads; }
std::string Server::cert_reload_error() const {
  std::lock_guard lock(impl_->mu);
  return impl_->reload_error;
}

}  // namespace cairn::http
