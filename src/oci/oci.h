// File: src/oci/oci.h
//
// wasmq's OCI registry client: references, authentication, manifests and indexes, every Wasm artifact
// layout in use, digest-checked blobs, and a content-addressed local cache that works offline.
//
// Layers, each callable on its own (`wasmq doctor` walks them one at a time and stops at the first failure):
//   1. Pure parsers over bytes (fuzzed): ParseReference, ParseWwwAuthenticate, ParseManifest,
//      ParseImageConfig, DetectLayout.
//   2. Credentials: ResolveCredentials() says what it found and every place it looked.
//   3. Client: one registry conversation (ping /v2/, token, tags, manifest, blob, upload), every HTTP
//      exchange optionally recorded into a caller's Transcript with secrets redacted.
//   4. Cache: blobs/sha256/<hex> plus an index ref → digest; Pull/Inspect/Push on top.
//
// Errors: every fallible call returns Result<T>; Error::kind is what a caller (and doctor) branches on.
// No exception crosses this API. Nothing here ever logs or prints a password, token or auth header.
// Thread safety: parsers and ResolveCredentials are reentrant; a Client is used by one thread at a time;
// a Cache may be shared by threads and processes (writes are tmp + rename).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "base/result.h"

namespace wasmq::oci {

// ---------------------------------------------------------------------------------------------- errors

enum class ErrorKind {
  InvalidArgument,    // bad reference, bad flag value, bad local file
  Network,            // no HTTP answer at all; Error::network says which stage failed
  AuthRequired,       // the registry wants credentials and none were found (Error::places_looked)
  AuthRejected,       // credentials were sent and refused (401 after auth, token endpoint 401)
  Denied,             // authenticated but not allowed: 403, error="insufficient_scope", DENIED
  RepoNotFound,       // NAME_UNKNOWN, or a 404 on the repository's tag list
  ManifestNotFound,   // MANIFEST_UNKNOWN / 404 for a tag or digest
  BlobNotFound,       // BLOB_UNKNOWN / 404 for a blob
  RateLimited,        // 429 / TOOMANYREQUESTS
  RegistryError,      // 5xx, an unexpected status, or an answer that cannot be parsed
  DigestMismatch,     // content whose sha256 is not the digest it was asked for (nothing is cached)
  UnsupportedFormat,  // a manifest/layout wasmq does not read (Error::media_types), or a wasm component
  NotCached,          // offline (or cache-only) and the cache does not hold it
  Io,                 // local file system
};

// The stage at which a request failed to get any HTTP answer.
enum class NetworkStage { None, Dns, Connect, Tls, Timeout, Other };

struct Error {
  ErrorKind kind = ErrorKind::RegistryError;
  std::string message;                      // one line, no secrets
  NetworkStage network = NetworkStage::None;  // for ErrorKind::Network
  int http_status = 0;                      // the status that caused it (0: none)
  std::string registry_code;                // the first `errors[].code` of the body: "NAME_UNKNOWN", ...
  std::vector<std::string> places_looked;   // AuthRequired: where credentials were searched
  std::vector<std::string> media_types;     // UnsupportedFormat: the media types found
};

// "invalid-argument", "network", "auth-required", "auth-rejected", "denied", "repo-not-found",
// "manifest-not-found", "blob-not-found", "rate-limited", "registry-error", "digest-mismatch",
// "unsupported-format", "not-cached", "io".
std::string_view KindName(ErrorKind kind);
// "dns", "connect", "tls", "timeout", "other", "" (None).
std::string_view StageName(NetworkStage stage);

template <typename T>
using Result = base::Result<T, Error>;

inline Error MakeError(ErrorKind kind, std::string message) {
  Error e;
  e.kind = kind;
  e.message = std::move(message);
  return e;
}

// ------------------------------------------------------------------------------------------ references

// `[registry/]repo[:tag][@sha256:<64 hex>]` with Docker's defaults: no registry → docker.io, a one-part
// docker.io repository gets `library/`, neither tag nor digest → tag `latest`. The first component is a
// registry when it contains '.' or ':' or is `localhost`.
struct Reference {
  std::string registry;    // "docker.io", "127.0.0.1:5000", "ghcr.io"
  std::string repository;  // "library/alpine"
  std::string tag;         // "" when only a digest was given
  std::string digest;      // "sha256:<hex>" or ""

  // The host the API lives on: docker.io → registry-1.docker.io; others unchanged.
  std::string ApiHost() const;
  // Canonical text: registry/repository[:tag][@digest].
  std::string String() const;
  // The tag or, when pinned, the digest: what goes after /manifests/.
  std::string Identifier() const { return digest.empty() ? tag : digest; }
};

Result<Reference> ParseReference(std::string_view text);
// A repository without tag or digest (`wasmq tags REPO`); a tag/digest given is kept but unused.
Result<Reference> ParseRepository(std::string_view text);
// True for "sha256:" + 64 lowercase hex.
bool IsDigest(std::string_view text);

// ------------------------------------------------------------------------------------- HTTP transcript

// One HTTP exchange as recorded for diagnostics. Authorization, Cookie, tokens and passwords never appear:
// headers are kept only from an allow-list and query strings of token endpoints are reduced to their keys.
struct Exchange {
  std::string method;
  std::string url;
  int status = 0;                                            // 0: no answer (see error)
  std::vector<std::pair<std::string, std::string>> headers;  // selected response headers, lowercased names
  std::string error;                                         // network failure text, or ""
  double elapsed_ms = 0;
};

struct Transcript {
  std::vector<Exchange> exchanges;
};

// --------------------------------------------------------------------------------- WWW-Authenticate

struct Challenge {
  std::string scheme;                         // "Basic", "Bearer" (as sent; compare case-insensitively)
  std::map<std::string, std::string> params;  // lowercased keys: realm, service, scope, error, ...
  std::string Param(const std::string& key) const;
};

// Parses one or more challenges (RFC 7235: auth-params with quoted strings and escapes, comma-separated
// challenges). Pure; never fails: unparseable text yields what could be read.
std::vector<Challenge> ParseWwwAuthenticate(std::string_view header);

// ------------------------------------------------------------------------------------------ credentials

struct Credential {
  std::string username;
  std::string password;        // or empty with identity_token
  std::string identity_token;  // docker `identitytoken`: an OAuth2 refresh token for the token endpoint
  std::string source;          // where it came from, e.g. "/home/u/.docker/config.json (auths)"
};

struct CredentialOptions {
  std::string docker_config;    // config.json path; "" = $DOCKER_CONFIG/config.json or ~/.docker/config.json
  std::string k8s_secret;       // kubernetes.io/dockerconfigjson secret (YAML or JSON); "" = $WASMQ_K8S_SECRET
  std::string wasmq_auth_file;  // `wasmq login` store; "" = $WASMQ_AUTH_FILE or ~/.config/wasmq/auth.json
  bool use_env = true;          // WASMQ_REGISTRY_USER / WASMQ_REGISTRY_PASSWORD (+ optional WASMQ_REGISTRY_HOST)
  bool use_helpers = true;      // run docker-credential-<name> for credHelpers / credsStore
};

struct CredentialLookup {
  std::optional<Credential> credential;
  std::vector<std::string> places_looked;  // in order, each "path or source: what was found"
};

// Looks, in order: env, the k8s secret, wasmq's store, docker config.json (credHelpers, auths, credsStore).
// The first match wins. A registry matches "host", "https://host", "http://host", "host/v1/" and, for
// docker.io, "https://index.docker.io/v1/". Errors only for files that exist but are malformed.
Result<CredentialLookup> ResolveCredentials(const std::string& registry, const CredentialOptions& options = {});

// The path `wasmq login` writes (resolved as above) and the write itself: docker's config.json format
// ({"auths": {host: {"auth": base64(user:password)}}}), merged into an existing file, mode 0600.
std::string WasmqAuthFile(const CredentialOptions& options = {});
Result<void> StoreLogin(const std::string& registry, const std::string& username, const std::string& password,
                        const CredentialOptions& options = {});

// -------------------------------------------------------------------------------- manifests and layouts

namespace media {
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kDockerList = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kWasmConfig = "application/vnd.wasm.config.v0+json";
inline constexpr std::string_view kWasmLayer = "application/wasm";
inline constexpr std::string_view kWasmContentLayer = "application/vnd.wasm.content.layer.v1+wasm";
inline constexpr std::string_view kComponentLayer = "application/vnd.bytecodealliance.wasm.component.layer.v0+wasm";
inline constexpr std::string_view kOciLayerTar = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kOciLayerTarGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kDockerLayerTarGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view kVariantAnnotation = "module.wasm.image/variant";
// The Accept header of every manifest request: all four manifest types.
std::string ManifestAccept();
}  // namespace media

struct Platform {
  std::string os, architecture, variant;
};

struct Descriptor {
  std::string media_type;
  std::string digest;
  int64_t size = 0;
  std::map<std::string, std::string> annotations;
  std::optional<Platform> platform;  // index entries
};

// An image manifest or an index, whichever the bytes are.
struct Manifest {
  std::string media_type;     // from Content-Type when given, else the body's mediaType, else inferred
  int schema_version = 0;
  std::string artifact_type;  // OCI 1.1 artifactType
  Descriptor config;          // manifests only
  std::vector<Descriptor> layers;     // manifests only
  std::vector<Descriptor> manifests;  // indexes only
  std::map<std::string, std::string> annotations;
  bool IsIndex() const;
};

// Parses manifest/index JSON. content_type (may be "") wins over the body's mediaType, as registries
// serve the type in the header. UnsupportedFormat for schema 1 / unknown types, RegistryError for bad JSON.
Result<Manifest> ParseManifest(std::string_view bytes, std::string_view content_type = {});

struct ImageConfig {
  std::string media_type;  // of the config blob (from the descriptor)
  std::string architecture, os, variant;
  std::vector<std::string> entrypoint, cmd;
  std::map<std::string, std::string> labels;
};
// Parses an OCI / Docker image config or a CNCF wasm config (`{"architecture","os","layerDigests",...}`).
Result<ImageConfig> ParseImageConfig(std::string_view bytes, std::string_view media_type = {});

// The index entry for the wasm platform: os wasi or wasip1 with architecture wasm; a single entry, or an
// entry carrying the `module.wasm.image/variant` annotation, is taken when no platform says so.
// UnsupportedFormat listing the platforms found when none fits.
Result<Descriptor> SelectWasmPlatform(const Manifest& index);

enum class Layout {
  CncfArtifact,      // config application/vnd.wasm.config.v0+json, one application/wasm layer
  WasmContentLayer,  // one application/vnd.wasm.content.layer.v1+wasm layer
  ImageConfigWasm,   // an image config saying architecture wasm with a raw wasm layer
  ComponentLayer,    // runwasi's application/vnd.bytecodealliance.wasm.component.layer.v0+wasm layer
  TarEntrypoint,     // FROM-scratch image: the Entrypoint names a .wasm inside tar / tar+gzip layers
};
// "cncf", "wasm-content-layer", "image-config", "component", "tar" (the `push --layout` names).
std::string_view LayoutName(Layout layout);
std::optional<Layout> LayoutFromName(std::string_view name);

// What DetectLayout found: where the module is and how to get it out.
struct LayoutMatch {
  Layout layout = Layout::CncfArtifact;
  Descriptor layer;          // the blob holding the module (raw wasm, or the tar layer holding it)
  std::string path_in_tar;   // TarEntrypoint: the module's path inside the layer, "" otherwise
  std::string entry_func;    // runwasi `path#func`: the function after '#', or ""
  bool docker_schema2 = false;
  std::string variant_hint;  // the module.wasm.image/variant annotation, if any
};
// Decides the layout of an image manifest. config may be null when the config blob was not fetched (it is
// needed only for image-config and tar layouts; without it they are inferred from the layers). For
// TarEntrypoint the layer is not opened here: every tar layer is a candidate, the last one wins (whiteouts
// are not followed); path_in_tar names the file. UnsupportedFormat lists the media types found.
Result<LayoutMatch> DetectLayout(const Manifest& manifest, const ImageConfig* config);
// All tar layers to search for path_in_tar, last first (overlay order), for TarEntrypoint.
std::vector<Descriptor> TarLayersNewestFirst(const Manifest& manifest);

// Checks a module's preamble: "\0asm" version 1 → ok; layer 0x0d 0x00 0x01 0x00 (a component, wasip2) →
// UnsupportedFormat "… is a WebAssembly component (wasip2); wasmq runs core modules (wasip1)"; anything else
// → UnsupportedFormat "not a WebAssembly module".
Result<void> CheckCoreModule(std::string_view bytes);
bool IsComponent(std::string_view bytes);

// Extracts one regular file from a tar archive, gzip-compressed or not (sniffed by magic). The name is
// compared without leading "/" and "./". ustar and GNU long names are read. NotCached-free: pure.
Result<std::string> ExtractFromTar(std::string_view archive, const std::string& path);
// A tar (ustar) with the given files, optionally gzip-compressed; deterministic (mtime 0).
std::string MakeTar(const std::vector<std::pair<std::string, std::string>>& files, bool gzip);

// sha256:<hex> of the bytes.
std::string Sha256Digest(std::string_view bytes);

// ---------------------------------------------------------------------------------------------- client

// Called while a blob downloads: bytes so far (including a resumed prefix) and the total (0 if unknown).
using ProgressFn = std::function<void(int64_t done, int64_t total)>;

struct ClientOptions {
  CredentialOptions credentials;
  // Registries spoken to over plain HTTP ("host:port" or "host"); "*" means all. Loopback (127.0.0.1,
  // localhost, [::1]) is plain HTTP by default unless prefer_tls_on_loopback.
  std::vector<std::string> insecure_registries;
  bool prefer_tls_on_loopback = false;
  bool tls_verify = true;           // off only for tests against self-signed registries
  long connect_timeout_ms = 10000;
  long request_timeout_ms = 60000;  // per request for small requests; blobs use low-speed limits instead
  // Idempotent requests (GET, HEAD, PUT) are repeated this often on connect failures, 429 and 5xx, after
  // retry_backoff_ms doubled each time (with jitter), or the Retry-After asked for when within 10 s.
  int retries = 2;
  long retry_backoff_ms = 500;
  Transcript* transcript = nullptr; // when set, every exchange is appended (secrets redacted)
  ProgressFn progress;              // blob downloads
  std::string user_agent = "wasmq";
  // When set, used instead of ResolveCredentials (wasmq login checks new credentials with it).
  std::optional<Credential> credential_override;
};

struct PingResult {
  int status = 0;                     // 200 or 401 usually
  std::string scheme;                 // "https" or "http"
  std::vector<Challenge> challenges;  // from a 401
  std::string api_version;            // Docker-Distribution-API-Version
};

struct FetchedManifest {
  Manifest manifest;
  std::string digest;        // Docker-Content-Digest, else sha256 of the bytes (verified when pinned)
  std::string bytes;         // exactly as served
  std::string content_type;
};

// One registry conversation. Credentials are resolved lazily on the first 401 (or eagerly by
// Authenticate) and tokens are cached per scope for their expires_in.
class Client {
 public:
  explicit Client(ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const ClientOptions& options() const;
  // "http" or "https" for a registry, by the insecure list and the loopback rule.
  std::string SchemeFor(const std::string& registry) const;

  // GET /v2/. A 401 is a successful ping (its challenges say how to authenticate).
  Result<PingResult> Ping(const std::string& registry);
  // The credentials that would be used for this registry (cached after the first call).
  Result<CredentialLookup> Credentials(const std::string& registry);
  // Ping, then authenticate for `repository:<repo>:<actions>` ("pull" or "pull,push"). Basic: checks the
  // credentials against /v2/. Bearer: fetches a token (anonymous when no credentials and the server allows).
  Result<void> Authenticate(const Reference& ref, const std::string& actions = "pull");
  // What `wasmq login` checks: ping, then GET /v2/ with Basic credentials or a scope-less Bearer token.
  // AuthRejected when refused; ok when the registry needs no credentials at all.
  Result<void> CheckLogin(const std::string& registry);

  // GET /v2/<repo>/tags/list (follows Link pagination).
  Result<std::vector<std::string>> ListTags(const Reference& ref);
  // GET /v2/<repo>/manifests/<identifier> with every manifest type accepted. When identifier is a digest the
  // bytes are verified against it (DigestMismatch).
  Result<FetchedManifest> GetManifest(const Reference& ref, const std::string& identifier);
  // GET /v2/<repo>/referrers/<digest>[?artifactType=T] (OCI distribution 1.1): an index of the manifests
  // whose `subject` is digest. A registry without the Referrers API (Debian's docker-registry 2.8) answers
  // 404, returned as ManifestNotFound; callers then read the `sha256-<hex>` fallback tag. The index is
  // parsed (manifest.manifests) and its bytes kept, so that fields ParseManifest drops (artifactType of
  // each entry) stay readable.
  Result<FetchedManifest> GetReferrers(const Reference& ref, const std::string& digest,
                                       const std::string& artifact_type = {});
  // HEAD /v2/<repo>/manifests/<identifier>: the digest, without the body.
  Result<std::string> ResolveDigest(const Reference& ref, const std::string& identifier);
  // GET a blob into memory (small blobs: configs), verified against digest.
  Result<std::string> GetBlob(const Reference& ref, const std::string& digest);
  // GET a blob into the file `dest`, sha256 verified while streaming. If `dest` already holds a prefix
  // (an interrupted download) the rest is requested with Range and the hash continues over the prefix.
  // On mismatch `dest` is deleted and DigestMismatch returned. Redirects (to storage back-ends) followed.
  Result<void> DownloadBlob(const Reference& ref, const Descriptor& blob, const std::string& dest);

  // Uploads: HEAD first (skip when present), then cross-repo mount when mount_from is given, else
  // POST + PUT monolithic.
  Result<void> PushBlob(const Reference& ref, const std::string& digest, std::string_view bytes,
                        const std::string& mount_from = {});
  // PUT /v2/<repo>/manifests/<tag or digest>; returns the digest.
  Result<std::string> PutManifest(const Reference& ref, const std::string& media_type, std::string_view bytes);

 private:
  friend class Conversation;  // client.cc: the auth-and-retry loop around each request
  struct Impl;
  Impl* impl_;
};

// ---------------------------------------------------------------------------------------------- cache

// Directory layout (docs/oci.md):
//   <dir>/blobs/sha256/<hex>   content-addressed, verified before it lands (tmp + rename)
//   <dir>/index.json           {"refs": {"<canonical ref>": {"digest", "module", "size", "layout",
//                                        "last_used"}}}  (manifest digest → module blob digest)
//   <dir>/tmp/                 partial downloads (resumed on the next pull)
//   <dir>/models/NAME.json     the models index (`wasmq models`): Gc keeps every blob a file there names
struct CacheEntry {
  std::string ref;              // canonical reference (tag form, or digest form for pinned pulls)
  std::string manifest_digest;  // the manifest the ref resolved to
  std::string module_digest;    // the blob holding the module bytes (for tar layouts: sha256 of the module)
  int64_t size = 0;             // module size in bytes
  std::string layout;           // LayoutName
  int64_t last_used = 0;        // unix seconds
  std::string entry_func;       // runwasi `path#func`, if any
};

struct GcOptions {
  int64_t older_than_seconds = -1;  // also drop refs not used for this long (-1: keep all refs)
  bool dry_run = false;
};
struct GcReport {
  std::vector<std::string> removed_refs;
  std::vector<std::string> removed_blobs;
  int64_t bytes_freed = 0;
};

class Cache {
 public:
  // "" → $WASMQ_CACHE_DIR, else $XDG_CACHE_HOME/wasmq, else ~/.cache/wasmq.
  explicit Cache(std::string dir = {});
  static std::string DefaultDir();
  const std::string& dir() const { return dir_; }

  std::string BlobPath(const std::string& digest) const;
  bool HasBlob(const std::string& digest) const;
  // Reads a blob and re-verifies its digest (a corrupted file is DigestMismatch and is removed).
  Result<std::string> ReadBlob(const std::string& digest) const;
  // Verifies and writes atomically.
  Result<void> PutBlob(const std::string& digest, std::string_view bytes);
  // Partial-download path for a digest (under tmp/).
  std::string PartialPath(const std::string& digest) const;
  // Moves a verified file into blobs/ (rename).
  Result<void> AdoptBlob(const std::string& digest, const std::string& verified_file);
  // Copies a file into blobs/ (tmp + rename), hashing it on the way: DigestMismatch (nothing stored) when
  // its sha256 is not digest. For files too large to hold in memory twice (models).
  Result<void> PutBlobFromFile(const std::string& digest, const std::string& file);

  std::optional<CacheEntry> Lookup(const std::string& canonical_ref) const;
  Result<void> Record(const CacheEntry& entry);  // inserts or replaces, sets last_used to now
  Result<void> Touch(const std::string& canonical_ref);
  std::vector<CacheEntry> List() const;
  Result<GcReport> Gc(const GcOptions& options);

 private:
  std::string dir_;
};

// ------------------------------------------------------------------------------------ pull / push / inspect

struct PullOptions {
  ClientOptions client;
  std::string cache_dir;  // "" → Cache::DefaultDir()
  bool offline = false;   // only the cache: tags resolved from its index
  bool refresh = false;   // re-resolve tags even when cached (default: tags are re-resolved online anyway)
};

struct PullResult {
  Reference ref;
  std::string manifest_digest;
  std::string module_digest;
  std::string module_path;  // the module inside the cache (read-only; copy it to keep it)
  int64_t size = 0;
  LayoutMatch layout;
  bool from_cache = false;      // no network used
};

// Resolves ref (tag → digest online, or from the index offline), fetches manifest / config / layer through
// the cache, extracts the module (tar layouts), checks it is a core module, records the ref. A pull by
// digest whose module is cached never touches the network.
Result<PullResult> Pull(const std::string& ref_text, const PullOptions& options);

struct InspectResult {
  Reference ref;
  std::string digest;        // of the manifest (or index) the ref names
  std::string media_type;
  Manifest manifest;         // the image manifest (after platform selection)
  std::optional<Manifest> index;  // when ref named an index
  std::optional<ImageConfig> config;
  std::optional<LayoutMatch> layout;  // absent when unsupported
  std::string layout_error;           // why, when absent
};
Result<InspectResult> Inspect(const std::string& ref_text, const ClientOptions& options);

struct PushOptions {
  ClientOptions client;
  Layout layout = Layout::CncfArtifact;
  bool docker_schema2 = false;  // `--layout docker`: a Docker schema2 image with a tar+gzip layer
  std::map<std::string, std::string> annotations;  // manifest annotations (e.g. module.wasm.image/variant)
};
struct PushResult {
  std::string manifest_digest;
  std::string media_type;
  int64_t size = 0;  // manifest size
};
// Pushes module bytes in the chosen layout: blobs (config and layers, skipped when present) then the
// manifest under the ref's tag (or digest).
Result<PushResult> Push(std::string_view module_bytes, const std::string& ref_text, const PushOptions& options);

// ----------------------------------------------------------------------- artifacts that are not modules

// A file of any kind as an OCI 1.1 artifact (docs/models.md): a manifest whose artifactType and config
// mediaType are both `artifact_type` (registries older than OCI 1.1 still show the type), the config blob a
// small JSON of the caller's, and ONE layer holding the file's bytes. Models travel this way
// (media::kModelArtifact, media::kOnnxModelLayer); nothing here is specific to them.
namespace media {
inline constexpr std::string_view kModelArtifact = "application/vnd.wasmq.model.v1+json";
inline constexpr std::string_view kOnnxModelLayer = "application/vnd.wasmq.model.onnx";
inline constexpr std::string_view kDlibModelLayer = "application/vnd.wasmq.model.dlib";
// Manifest annotations of a model artifact; the licence and source keys are the OCI image-spec ones.
inline constexpr std::string_view kModelNameAnnotation = "io.wasmq.model.name";
inline constexpr std::string_view kLicensesAnnotation = "org.opencontainers.image.licenses";
inline constexpr std::string_view kSourceAnnotation = "org.opencontainers.image.source";
inline constexpr std::string_view kTitleAnnotation = "org.opencontainers.image.title";
}  // namespace media

struct ArtifactPushOptions {
  ClientOptions client;
  std::string artifact_type;                        // required: manifest artifactType and config mediaType
  std::string layer_media_type;                     // required
  std::string config_json = "{}";                   // the config blob's bytes
  std::string title;                                // the layer's org.opencontainers.image.title, if any
  std::map<std::string, std::string> annotations;  // the manifest's
};
// Pushes the file's bytes (read whole) as the artifact's one layer, then the config and the manifest
// under the ref's tag. The layer's digest is the file's sha256.
Result<PushResult> PushArtifact(const std::string& file_path, const std::string& ref_text,
                                const ArtifactPushOptions& options);

struct ArtifactPullOptions {
  ClientOptions client;
  std::string cache_dir;   // "" → Cache::DefaultDir()
  bool offline = false;    // only the cache: tags resolved from its index
  std::string artifact_type;                     // the manifest's artifactType or config mediaType must be it
  std::vector<std::string> layer_media_types;    // the layer taken is the one whose type is listed here
};
struct ArtifactPullResult {
  Reference ref;
  std::string manifest_digest;
  Descriptor layer;  // digest, media type, size (and annotations when the manifest was read)
  std::string path;  // the layer's blob inside the cache (read-only; copy it to keep it)
  std::map<std::string, std::string> annotations;  // the manifest's; empty when offline and it is not cached
  bool from_cache = false;                          // no network used
};
// Resolves ref, checks the artifact type, downloads the layer into the cache's blob store (sha256 verified
// while streaming: a registry serving other bytes is DigestMismatch and nothing is cached), keeps the
// manifest as a blob too, and records the ref in index.json with the layer's media type as its "layout".
// A pinned ref whose layer is cached, and any offline pull of a cached ref, never touch the network; a
// cached layer is re-hashed before it is handed out (a corrupt file is DigestMismatch and is removed).
Result<ArtifactPullResult> PullArtifact(const std::string& ref_text, const ArtifactPullOptions& options);

// Streams the file through sha256: "sha256:<hex>", or Io when it cannot be read.
Result<std::string> Sha256File(const std::string& path);

}  // namespace wasmq::oci
