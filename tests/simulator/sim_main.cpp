// aistudios-sim: the AI Studios simulator as a standalone server, for the
// demo and for poking at by hand.
//
//   aistudios-sim [--port N] [--port-file F] [--tls-cert F --tls-key F] [knobs...]
//   aistudios-sim make-certs --dir D [--host H]

#include <algorithm>
#include <csignal>
#include <fstream>
#include <iostream>
#include <optional>

#include <boost/program_options.hpp>

#include "simulator.hpp"
#include "test_certs.hpp"

namespace po = boost::program_options;
using exportd::sim::Millis;

namespace {

Millis ms(const po::variables_map& vm, const char* key, Millis fallback) {
  return vm.count(key) ? Millis(vm[key].as<long>()) : fallback;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc > 1 && std::string(argv[1]) == "make-certs") {
      po::options_description o("make-certs");
      o.add_options()("dir", po::value<std::string>()->required(), "output folder")(
          "host", po::value<std::string>()->default_value("127.0.0.1"), "the name or address the certificate is for");
      po::variables_map vm;
      po::store(po::parse_command_line(argc - 1, argv + 1, o), vm);
      po::notify(vm);
      exportd::testing::make_test_certs(vm["dir"].as<std::string>(), vm["host"].as<std::string>());
      return 0;
    }
    po::options_description o("aistudios-sim");
    o.add_options()("help", "this help")("listen", po::value<std::string>()->default_value("127.0.0.1"), "address")(
        "port", po::value<unsigned>()->default_value(0), "port; 0 picks a free one")(
        "port-file", po::value<std::string>(), "write the port here once listening")(
        "tls-cert", po::value<std::string>(), "serve HTTPS with this PEM chain")(
        "tls-key", po::value<std::string>(), "and this key")(
        "app-id", po::value<std::string>()->default_value("demo-app"), "accepted appId")(
        "user-key", po::value<std::string>()->default_value("demo-key"), "accepted userKey")(
        "export-min-ms", po::value<long>(), "shortest export [2000]")(
        "export-max-ms", po::value<long>(), "longest export [5000]")(
        "token-lifetime-ms", po::value<long>(), "token lifetime [24h]")(
        "latency-ms", po::value<long>(), "delay before each reply [0]")(
        "rate-5xx", po::value<double>()->default_value(0), "share of calls answered 503")(
        "rate-429", po::value<double>()->default_value(0), "share answered 429")(
        "rate-drop", po::value<double>()->default_value(0), "share of connections dropped")(
        "rate-html", po::value<double>()->default_value(0), "share answered with an HTML page")(
        "new-id", "export answers a new projectId")("expired-as-200", "expired token as HTTP 200 success:false")(
        "seed", po::value<std::uint64_t>()->default_value(1), "random seed")(
        "shape", po::value<std::string>()->default_value("linear"),
        "progress shape: linear, queued, steps, stall, scurve or mixed")(
        "resolution", po::value<double>()->default_value(0.1), "progress reported in steps of this many percent")(
        "videos", "serve each finished export's video (the link at 100 % points here)")(
        "video-min-kib", po::value<std::uint64_t>()->default_value(1024), "smallest video, KiB")(
        "video-max-kib", po::value<std::uint64_t>()->default_value(4096), "largest video, KiB")(
        "video-cut", po::value<double>()->default_value(0), "share of video replies cut off part-way")(
        "link-expired", po::value<double>()->default_value(0), "share of download links refused (403)")(
        "video-rate-kib", po::value<std::uint64_t>()->default_value(0), "bytes per second per video reply, KiB (0: no cap)");
    po::variables_map vm;
    po::store(po::parse_command_line(argc, argv, o), vm);
    if (vm.count("help")) {
      std::cout << o;
      return 0;
    }
    po::notify(vm);
    exportd::sim::Knobs k;
    k.app_id = vm["app-id"].as<std::string>();
    k.user_key = vm["user-key"].as<std::string>();
    k.export_min = ms(vm, "export-min-ms", k.export_min);
    k.export_max = ms(vm, "export-max-ms", k.export_max);
    k.token_lifetime = ms(vm, "token-lifetime-ms", k.token_lifetime);
    k.latency = ms(vm, "latency-ms", k.latency);
    k.rate_5xx = vm["rate-5xx"].as<double>();
    k.rate_429 = vm["rate-429"].as<double>();
    k.rate_drop = vm["rate-drop"].as<double>();
    k.rate_html = vm["rate-html"].as<double>();
    k.new_id_on_export = vm.count("new-id") > 0;
    k.expired_as_200 = vm.count("expired-as-200") > 0;
    k.seed = vm["seed"].as<std::uint64_t>();
    if (!exportd::sim::parse_shape(vm["shape"].as<std::string>(), k.shape)) {
      std::cerr << "aistudios-sim: unknown --shape " << vm["shape"].as<std::string>() << "\n";
      return 2;
    }
    k.progress_resolution = vm["resolution"].as<double>();
    k.serve_videos = vm.count("videos") > 0;
    k.video_min_bytes = vm["video-min-kib"].as<std::uint64_t>() * 1024;
    k.video_max_bytes = std::max(k.video_min_bytes, vm["video-max-kib"].as<std::uint64_t>() * 1024);
    k.video_cut = vm["video-cut"].as<double>();
    k.link_expired = vm["link-expired"].as<double>();
    k.video_rate = vm["video-rate-kib"].as<std::uint64_t>() * 1024;

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);  // the server thread inherits the mask

    std::optional<exportd::sim::TlsFiles> tls;
    if (vm.count("tls-cert")) tls = exportd::sim::TlsFiles{vm["tls-cert"].as<std::string>(), vm["tls-key"].as<std::string>()};
    exportd::sim::Simulator sim(k, vm["listen"].as<std::string>(), static_cast<std::uint16_t>(vm["port"].as<unsigned>()),
                                tls ? &*tls : nullptr);
    if (vm.count("port-file")) {
      const auto path = vm["port-file"].as<std::string>();
      { std::ofstream(path + ".tmp") << sim.port() << "\n"; }
      std::rename((path + ".tmp").c_str(), path.c_str());
    }
    std::cerr << "aistudios-sim: listening on " << (tls ? "https" : "http") << "://" << vm["listen"].as<std::string>()
              << ":" << sim.port() << "\n";
    int sig = 0;
    sigwait(&set, &sig);
    const auto s = sim.stats();
    std::cerr << "aistudios-sim: " << s.requests << " API calls, " << s.token_requests << " token, " << s.export_requests
              << " exports, " << s.progress_requests << " progress, " << s.duplicate_exports << " duplicate exports\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "aistudios-sim: " << e.what() << "\n";
    return 2;
  }
}
