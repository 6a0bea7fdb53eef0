// File: src/oci/doctor.cc
//
// The walk behind `wasmq doctor`: the steps of a pull, one Client call each, every HTTP exchange recorded
// into a Transcript and copied into the evidence after the step that made it. The first failing step
// decides the cause; doctor_text.cc turns it into the fix and the output.
#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>

#include "oci/doctor.h"
#include "oci/doctor_text.h"

namespace wasmq::oci {
namespace {

using Clock = std::chrono::steady_clock;

std::string Bytes(int64_t n) { return std::to_string(n) + " bytes"; }

// One walk: the state shared by the steps.
class Walk {
 public:
  Walk(const std::string& ref_text, const DoctorOptions& options) : options_(options) {
    d_.ref = ref_text;
    ClientOptions client_options = options.client;
    client_options.transcript = &transcript_;
    client_options.progress = nullptr;
    client_ = std::make_unique<Client>(client_options);
  }

  Diagnosis Run(const Reference& ref) {
    ref_ = ref;
    Note("reference: " + ref.String() + " (registry " + ref.registry + ", API host " + ref.ApiHost() +
         ", repository " + ref.repository + ", " + (ref.digest.empty() ? "tag " + ref.tag : "digest " + ref.digest) +
         ")");
    Note("scheme: " + client_->SchemeFor(ref.registry) +
         (client_->SchemeFor(ref.registry) == "http" ? " (plain HTTP: loopback or --insecure)" : ""));
    if (!Ping() || !LookUpCredentials() || !Authenticate()) return Finish();
    std::optional<FetchedManifest> top = FetchTopManifest();
    if (!top) return Finish();
    std::optional<FetchedManifest> image = ResolvePlatform(*top);
    if (!image) return Finish();
    if (!CheckLayoutAndModule(*image)) return Finish();
    return Finish();
  }

 private:
  // ---- evidence -------------------------------------------------------------------------------------------

  void FlushExchanges() {
    for (; seen_ < transcript_.exchanges.size(); ++seen_) d_.evidence.push_back(FormatExchange(transcript_.exchanges[seen_]));
  }
  void Note(const std::string& line) {
    FlushExchanges();
    d_.evidence.push_back(line);
  }
  // Sets the cause (the first one wins) and returns false, so a step can `return Fail(...)`.
  bool Fail(DoctorCause cause, std::string detail, std::string verdict, const Error* error = nullptr) {
    FlushExchanges();
    if (error && !error->message.empty()) d_.evidence.push_back("error: " + error->message);
    d_.cause = cause;
    d_.detail = std::move(detail);
    d_.verdict = std::move(verdict);
    return false;
  }

  // Maps a Client error to a cause; `what` names the step for the verdict.
  bool FailWith(const Error& e, const std::string& what) {
    const std::string host = ref_.registry;
    switch (e.kind) {
      case ErrorKind::Network: {
        std::string stage(StageName(e.network));
        if (stage.empty()) stage = "other";
        return Fail(DoctorCause::Network, stage, NetworkVerdict(e.network, host, what), &e);
      }
      case ErrorKind::AuthRequired:
        for (const std::string& place : e.places_looked) looked_.push_back(place);
        return Fail(DoctorCause::Auth, "no-credentials", host + " requires credentials and none were found", &e);
      case ErrorKind::AuthRejected:
        if (!credential_)
          return Fail(DoctorCause::Auth, "no-credentials", host + " requires credentials and none were found", &e);
        return Fail(DoctorCause::Auth, "credentials-rejected",
                    host + " rejected the credentials of " + credential_->username + " (from " +
                        credential_->source + ")",
                    &e);
      case ErrorKind::Denied:
        if (!credential_)  // anonymous access exists but cannot pull: credentials are what is missing
          return Fail(DoctorCause::Auth, "no-credentials",
                      "anonymous access to " + ref_.repository + " is denied and no credentials were found", &e);
        return Fail(DoctorCause::Denied, "",
                    credential_->username + " is authenticated but has no pull right on " + ref_.repository, &e);
      case ErrorKind::RepoNotFound:
        return Fail(DoctorCause::RepoNotFound, "", "repository " + ref_.repository + " does not exist on " + host, &e);
      case ErrorKind::RateLimited:
        return Fail(DoctorCause::RateLimited, "", host + " is rate-limiting requests (" + what + ")", &e);
      case ErrorKind::DigestMismatch:
        return Fail(DoctorCause::DigestMismatch, "", "the " + what + " served does not match its digest", &e);
      case ErrorKind::UnsupportedFormat:
        for (const std::string& t : e.media_types) Note("media type found: " + t);
        return Fail(DoctorCause::UnsupportedFormat, "", "the artifact is in a format wasmq does not read (" + what + ")",
                    &e);
      case ErrorKind::ManifestNotFound:
      case ErrorKind::BlobNotFound:
        return Fail(DoctorCause::RegistryError, "",
                    "the registry lacks content the manifest names (" + what + "): the push was incomplete", &e);
      case ErrorKind::RegistryError:
      case ErrorKind::InvalidArgument:
      case ErrorKind::NotCached:
      case ErrorKind::Io:
        break;
    }
    return Fail(DoctorCause::RegistryError, "",
                "the registry answered the " + what + " with an error" +
                    (e.http_status ? " (HTTP " + std::to_string(e.http_status) + ")" : ""),
                &e);
  }

  // ---- the steps of a pull ----------------------------------------------------------------------------------

  bool Ping() {
    auto ping = client_->Ping(ref_.registry);
    if (!ping) return FailWith(ping.error(), "ping of /v2/");
    std::string line = "ping: /v2/ answered " + std::to_string(ping->status) + " over " + ping->scheme;
    for (const Challenge& c : ping->challenges) {
      line += "; challenge " + c.scheme;
      if (!c.Param("realm").empty()) line += " realm=" + c.Param("realm");
      if (!c.Param("service").empty()) line += " service=" + c.Param("service");
    }
    Note(line);
    return true;
  }

  bool LookUpCredentials() {
    auto lookup = client_->Credentials(ref_.registry);
    if (!lookup) {
      return Fail(DoctorCause::Auth, "bad-credentials-file", "a credentials file for " + ref_.registry + " is malformed",
                  &lookup.error());
    }
    looked_ = lookup->places_looked;
    if (lookup->credential) {
      credential_ = lookup->credential;
      Note("credentials: user " + credential_->username + " from " + credential_->source +
           (credential_->identity_token.empty() ? "" : " (identity token)"));
    } else {
      Note("credentials: none found for " + ref_.registry);
    }
    for (const std::string& place : looked_) Note("  looked in: " + place);
    return true;
  }

  bool Authenticate() {
    auto auth = client_->Authenticate(ref_, "pull");
    if (!auth) return FailWith(auth.error(), "authentication");
    Note(std::string("authentication: ") + (credential_ ? "accepted for " + credential_->username : "anonymous access allowed"));
    return true;
  }

  std::optional<FetchedManifest> FetchTopManifest() {
    const std::string id = ref_.Identifier();
    auto fetched = client_->GetManifest(ref_, id);
    if (!fetched) {
      const Error& e = fetched.error();
      if (e.kind == ErrorKind::ManifestNotFound || e.kind == ErrorKind::RepoNotFound) {
        ExplainMissing(e);
        return std::nullopt;
      }
      FailWith(e, "manifest " + id);
      return std::nullopt;
    }
    if (!VerifyManifestDigest(*fetched, "manifest " + id)) return std::nullopt;
    Note("manifest: " + fetched->content_type + " " + fetched->digest + " (" + Bytes(static_cast<int64_t>(fetched->bytes.size())) + ")");
    return std::move(*fetched);
  }

  // The manifest is missing: the repository's tags say whether the repository or the tag is the problem.
  void ExplainMissing(const Error& manifest_error) {
    FlushExchanges();
    auto tags = client_->ListTags(ref_);
    if (!tags) {
      if (tags.error().kind == ErrorKind::RepoNotFound || manifest_error.kind == ErrorKind::RepoNotFound) {
        Fail(DoctorCause::RepoNotFound, "", "repository " + ref_.repository + " does not exist on " + ref_.registry,
             &tags.error());
        return;
      }
      Note("tags: could not be listed (" + std::string(KindName(tags.error().kind)) + ")");
    } else {
      d_.tags = *tags;
      std::sort(d_.tags.begin(), d_.tags.end());
      d_.nearest_tag = NearestTag(ref_.digest.empty() ? ref_.tag : "", d_.tags);
      std::string list;
      for (const std::string& t : d_.tags) list += (list.empty() ? "" : ", ") + t;
      Note("tags in " + ref_.repository + ": " + (list.empty() ? "(none)" : list));
      if (d_.tags.empty() && manifest_error.kind == ErrorKind::RepoNotFound) {
        Fail(DoctorCause::RepoNotFound, "", "repository " + ref_.repository + " does not exist on " + ref_.registry);
        return;
      }
      if (!d_.nearest_tag.empty()) Note("nearest tag: " + d_.nearest_tag);
    }
    const std::string what = ref_.digest.empty() ? "tag " + ref_.tag : "digest " + ref_.digest;
    Fail(DoctorCause::TagNotFound, "", what + " does not exist in " + ref_.registry + "/" + ref_.repository,
         &manifest_error);
  }

  // Docker-Content-Digest (what the registry says the manifest is, as recorded in the transcript for the
  // last manifest GET) against the bytes it served. The client checks pinned digests itself; this catches
  // a registry or proxy that lies about a tag's manifest.
  bool VerifyManifestDigest(const FetchedManifest& m, const std::string& what) {
    const std::string actual = Sha256Digest(m.bytes);
    std::string claimed;
    for (auto e = transcript_.exchanges.rbegin(); e != transcript_.exchanges.rend() && claimed.empty(); ++e) {
      if (e->method != "GET" || e->status != 200 || e->url.find("/manifests/") == std::string::npos) continue;
      for (const auto& [name, value] : e->headers)
        if (name == "docker-content-digest") claimed = value;
      break;
    }
    if (claimed.starts_with("sha256:") && claimed != actual) {
      Note("Docker-Content-Digest says " + claimed + ", the bytes served hash to " + actual);
      return Fail(DoctorCause::DigestMismatch, "", "the " + what + " served does not match its digest");
    }
    return true;
  }

  std::optional<FetchedManifest> ResolvePlatform(FetchedManifest top) {
    if (!top.manifest.IsIndex()) return top;
    for (const Descriptor& m : top.manifest.manifests) {
      std::string platform = m.platform ? m.platform->os + "/" + m.platform->architecture : "no platform";
      Note("index entry: " + m.media_type + " " + m.digest + " (" + platform + ")");
    }
    auto chosen = SelectWasmPlatform(top.manifest);
    if (!chosen) {
      FailWith(chosen.error(), "no wasi/wasm platform in the index");
      return std::nullopt;
    }
    Note("platform: chose " + chosen->digest);
    auto child = client_->GetManifest(ref_, chosen->digest);
    if (!child) {
      FailWith(child.error(), "manifest " + chosen->digest + " named by the index");
      return std::nullopt;
    }
    if (!VerifyManifestDigest(*child, "manifest " + chosen->digest)) return std::nullopt;
    Note("manifest: " + child->content_type + " " + child->digest);
    return std::move(*child);
  }

  bool CheckLayoutAndModule(const FetchedManifest& image) {
    const Manifest& m = image.manifest;
    Note("config: " + m.config.media_type + " " + m.config.digest + " (" + Bytes(m.config.size) + ")");
    for (const Descriptor& l : m.layers) Note("layer: " + l.media_type + " " + l.digest + " (" + Bytes(l.size) + ")");
    std::optional<ImageConfig> config;
    if (m.config.size <= (int64_t{4} << 20)) {
      auto blob = client_->GetBlob(ref_, m.config.digest);
      if (!blob) return FailWith(blob.error(), "config blob " + m.config.digest);
      auto parsed = ParseImageConfig(*blob, m.config.media_type);
      if (parsed) {
        config = *parsed;
        if (!config->architecture.empty() || !config->os.empty())
          Note("config says: os " + (config->os.empty() ? "-" : config->os) + ", architecture " +
               (config->architecture.empty() ? "-" : config->architecture));
      } else {
        Note("config: not an image config (" + parsed.error().message + ")");
      }
    }
    auto layout = DetectLayout(m, config ? &*config : nullptr);
    if (!layout) {
      found_types_ = {"manifest " + image.content_type, "config " + m.config.media_type};
      for (const Descriptor& l : m.layers) found_types_.push_back("layer " + l.media_type);
      for (const std::string& t : found_types_) Note("found: " + t);
      Note("wasmq reads: cncf (config application/vnd.wasm.config.v0+json, one application/wasm layer); "
           "wasm-content-layer (one application/vnd.wasm.content.layer.v1+wasm layer); image-config (config "
           "architecture wasm, a raw wasm layer); component (application/vnd.bytecodealliance.wasm.component.layer."
           "v0+wasm); tar (an Entrypoint naming a .wasm in tar / tar+gzip layers; Docker schema2 too)");
      return Fail(DoctorCause::UnsupportedFormat, "", "no layout wasmq reads matches this artifact", &layout.error());
    }
    layout_ = *layout;
    Note("layout: " + std::string(LayoutName(layout->layout)) + (layout->docker_schema2 ? " (Docker schema2)" : "") +
         (layout->variant_hint.empty() ? "" : ", variant " + layout->variant_hint) + ", module in layer " +
         layout->layer.digest + (layout->path_in_tar.empty() ? "" : " at " + layout->path_in_tar));
    return CheckModule(m, *layout);
  }

  bool CheckModule(const Manifest& m, const LayoutMatch& layout) {
    if (layout.layer.size > options_.max_module_download) {
      Note("module layer: " + Bytes(layout.layer.size) + ", larger than the check limit: not downloaded");
      return Succeed(layout, layout.layer.size);
    }
    std::string module;
    if (layout.layout == Layout::TarEntrypoint) {
      bool found = false;
      for (const Descriptor& layer : TarLayersNewestFirst(m)) {
        auto blob = client_->GetBlob(ref_, layer.digest);
        if (!blob) return FailWith(blob.error(), "layer " + layer.digest);
        auto file = ExtractFromTar(*blob, layout.path_in_tar);
        if (file) {
          module = std::move(*file);
          found = true;
          Note("module: " + layout.path_in_tar + " found in layer " + layer.digest);
          break;
        }
      }
      if (!found) {
        return Fail(DoctorCause::UnsupportedFormat, "",
                    "the Entrypoint names " + layout.path_in_tar + " but no layer holds that file");
      }
    } else {
      auto blob = client_->GetBlob(ref_, layout.layer.digest);
      if (!blob) return FailWith(blob.error(), "module layer " + layout.layer.digest);
      module = std::move(*blob);
      Note("module layer: digest verified (" + Bytes(static_cast<int64_t>(module.size())) + ")");
    }
    auto core = CheckCoreModule(module);
    if (!core) {
      found_types_ = {IsComponent(module) ? "a WebAssembly component (wasip2)" : "not WebAssembly"};
      return Fail(DoctorCause::UnsupportedFormat, "",
                  IsComponent(module) ? "the module is a WebAssembly component (wasip2); wasmq runs core modules (wasip1)"
                                      : "the layer holding the module is not WebAssembly",
                  &core.error());
    }
    return Succeed(layout, static_cast<int64_t>(module.size()));
  }

  bool Succeed(const LayoutMatch& layout, int64_t size) {
    FlushExchanges();
    d_.cause = DoctorCause::Ok;
    d_.verdict = "a pull would succeed: " + std::string(LayoutName(layout.layout)) + " layout, core module of " +
                 Bytes(size);
    if (options_.check_signature) {
      if (auto finding = options_.check_signature(d_.ref, &d_.evidence)) {
        d_.evidence.insert(d_.evidence.end(), finding->evidence.begin(), finding->evidence.end());
        d_.cause = finding->cause;
        d_.verdict = finding->verdict;
        d_.key_hint = finding->key_hint;
        return false;
      }
    }
    return true;
  }

  Diagnosis Finish() {
    FlushExchanges();
    FixContext ctx{ref_, credential_ ? credential_->username : "", looked_, found_types_, options_.secret_name,
                   layout_ ? std::string(LayoutName(layout_->layout)) : "",
                   client_->SchemeFor(ref_.registry) == "http"};
    d_.fix = BuildFix(d_, ctx);
    return std::move(d_);
  }

  static std::string NetworkVerdict(NetworkStage stage, const std::string& host, const std::string& what) {
    switch (stage) {
      case NetworkStage::Dns: return "the name of " + host + " does not resolve (DNS)";
      case NetworkStage::Connect: return "nothing accepts connections at " + host + " (connect)";
      case NetworkStage::Tls: return "the TLS handshake with " + host + " failed (TLS)";
      case NetworkStage::Timeout: return host + " did not answer in time (timeout)";
      default: return "the network failed while talking to " + host + " (" + what + ")";
    }
  }

  const DoctorOptions& options_;
  Diagnosis d_;
  Transcript transcript_;
  size_t seen_ = 0;
  std::unique_ptr<Client> client_;
  Reference ref_;
  std::optional<Credential> credential_;
  std::vector<std::string> looked_;
  std::vector<std::string> found_types_;
  std::optional<LayoutMatch> layout_;
};

}  // namespace

Result<Diagnosis> Diagnose(const std::string& ref_text, const DoctorOptions& options) {
  const auto start = Clock::now();
  auto ref = ParseReference(ref_text);
  if (!ref) return ref.error();
  Walk walk(ref_text, options);
  Diagnosis d = walk.Run(*ref);
  d.elapsed_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  return d;
}

}  // namespace wasmq::oci
