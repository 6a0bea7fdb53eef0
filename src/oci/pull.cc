// File: src/oci/pull.cc
//
// Pull and Inspect: reference → manifest (index resolved to wasi/wasm) → layout → module bytes, through
// the cache. The index maps both the tag form and the digest form of a ref to the module's blob, so a
// pinned pull that is cached, and any pull with --offline, never open a connection.
#include <filesystem>

#include "oci/util.h"

namespace wasmq::oci {
namespace {

std::string DigestRef(const Reference& ref, const std::string& digest) {
  return ref.registry + "/" + ref.repository + "@" + digest;
}
std::string TagRef(const Reference& ref) { return ref.registry + "/" + ref.repository + ":" + ref.tag; }

Result<PullResult> FromCache(Cache& cache, const Reference& ref, const CacheEntry& entry) {
  if (!cache.HasBlob(entry.module_digest))
    return MakeError(ErrorKind::NotCached, ref.String() + ": the index names " + entry.module_digest +
                                               " but the blob is gone from " + cache.dir());
  auto bytes = cache.ReadBlob(entry.module_digest);  // re-verified: a corrupt file is an error, not a module
  if (!bytes) return bytes.error();
  auto core = CheckCoreModule(*bytes);
  if (!core) return core.error();
  (void)cache.Touch(entry.ref);
  PullResult r;
  r.ref = ref;
  r.manifest_digest = entry.manifest_digest;
  r.module_digest = entry.module_digest;
  r.module_path = cache.BlobPath(entry.module_digest);
  r.size = static_cast<int64_t>(bytes->size());
  if (auto l = LayoutFromName(entry.layout)) r.layout.layout = *l;
  r.layout.entry_func = entry.entry_func;
  r.from_cache = true;
  return r;
}

// A blob into the cache: downloaded to tmp/ (resumable), verified while streaming, renamed into blobs/.
Result<void> FetchIntoCache(Client& client, Cache& cache, const Reference& ref, const Descriptor& d) {
  if (cache.HasBlob(d.digest)) return {};
  std::string partial = cache.PartialPath(d.digest);
  auto r = client.DownloadBlob(ref, d, partial);
  if (!r) return r.error();
  return cache.AdoptBlob(d.digest, partial);
}

struct Resolved {
  FetchedManifest top;              // what the ref names (maybe an index)
  std::optional<Manifest> index;
  Manifest manifest;                // the image manifest
  std::string manifest_digest;      // of the image manifest
};

Result<Resolved> ResolveManifest(Client& client, const Reference& ref) {
  Resolved out;
  auto top = client.GetManifest(ref, ref.Identifier());
  if (!top) return top.error();
  out.top = std::move(*top);
  if (!out.top.manifest.IsIndex()) {
    out.manifest = out.top.manifest;
    out.manifest_digest = out.top.digest;
    return out;
  }
  out.index = out.top.manifest;
  auto entry = SelectWasmPlatform(out.top.manifest);
  if (!entry) return entry.error();
  auto inner = client.GetManifest(ref, entry->digest);
  if (!inner) return inner.error();
  if (inner->manifest.IsIndex()) return MakeError(ErrorKind::UnsupportedFormat, "an index inside an index");
  out.manifest = std::move(inner->manifest);
  out.manifest_digest = inner->digest;
  return out;
}

}  // namespace

Result<PullResult> Pull(const std::string& ref_text, const PullOptions& o) {
  auto parsed = ParseReference(ref_text);
  if (!parsed) return parsed.error();
  const Reference& ref = *parsed;
  Cache cache(o.cache_dir);
  // 1. Pinned and cached: no network at all.
  if (!ref.digest.empty())
    if (auto e = cache.Lookup(DigestRef(ref, ref.digest)))
      if (cache.HasBlob(e->module_digest)) return FromCache(cache, ref, *e);
  if (o.offline) {
    std::string key = ref.digest.empty() ? TagRef(ref) : DigestRef(ref, ref.digest);
    if (auto e = cache.Lookup(key)) return FromCache(cache, ref, *e);
    return MakeError(ErrorKind::NotCached, ref.String() + " is not in the cache (" + cache.dir() +
                                               ") and --offline forbids the network; pull it once online");
  }
  // 2. Online: resolve the manifest; blobs already cached are not fetched again.
  Client client(o.client);
  auto res = ResolveManifest(client, ref);
  if (!res) return res.error();
  if (auto e = cache.Lookup(DigestRef(ref, res->top.digest)); e && cache.HasBlob(e->module_digest)) {
    CacheEntry tag_entry = *e;
    if (!ref.tag.empty()) {
      tag_entry.ref = TagRef(ref);
      (void)cache.Record(tag_entry);
    }
    auto r = FromCache(cache, ref, *e);
    if (r) r->from_cache = false;  // the tag was resolved online
    return r;
  }
  std::optional<ImageConfig> config;
  const Manifest& m = res->manifest;
  bool config_needed = true;
  for (const auto& l : m.layers)
    if (l.media_type == media::kWasmLayer || l.media_type == media::kWasmContentLayer ||
        l.media_type == media::kComponentLayer)
      config_needed = false;
  if (config_needed && m.config.size < (int64_t{1} << 22)) {
    auto bytes = client.GetBlob(ref, m.config.digest);
    if (!bytes) return bytes.error();
    auto c = ParseImageConfig(*bytes, m.config.media_type);
    if (!c) return c.error();
    config = std::move(*c);
  }
  auto layout = DetectLayout(m, config ? &*config : nullptr);
  if (!layout) return layout.error();
  std::string module_digest;
  int64_t size = 0;
  if (layout->layout == Layout::TarEntrypoint) {
    std::string module;
    bool found = false;
    for (const auto& layer : TarLayersNewestFirst(m)) {
      auto f = FetchIntoCache(client, cache, ref, layer);
      if (!f) return f.error();
      auto archive = cache.ReadBlob(layer.digest);
      if (!archive) return archive.error();
      auto file = ExtractFromTar(*archive, layout->path_in_tar);
      if (file) {
        module = std::move(*file);
        found = true;
        break;
      }
      if (file.error().message.find("hold no file") == std::string::npos) return file.error();
    }
    if (!found)
      return MakeError(ErrorKind::UnsupportedFormat,
                       "the Entrypoint names " + layout->path_in_tar + " but no layer of the image holds it");
    auto core = CheckCoreModule(module);
    if (!core) return core.error();
    module_digest = Sha256Digest(module);
    size = static_cast<int64_t>(module.size());
    auto put = cache.PutBlob(module_digest, module);
    if (!put) return put.error();
  } else {
    auto f = FetchIntoCache(client, cache, ref, layout->layer);
    if (!f) return f.error();
    auto bytes = cache.ReadBlob(layout->layer.digest);
    if (!bytes) return bytes.error();
    auto core = CheckCoreModule(*bytes);
    if (!core) return core.error();
    module_digest = layout->layer.digest;
    size = static_cast<int64_t>(bytes->size());
  }
  CacheEntry entry;
  entry.manifest_digest = res->top.digest;
  entry.module_digest = module_digest;
  entry.size = size;
  entry.layout = std::string(LayoutName(layout->layout));
  entry.entry_func = layout->entry_func;
  entry.ref = DigestRef(ref, res->top.digest);
  if (auto w = cache.Record(entry); !w) return w.error();
  if (!ref.tag.empty()) {
    entry.ref = TagRef(ref);
    if (auto w = cache.Record(entry); !w) return w.error();
  }
  PullResult r;
  r.ref = ref;
  r.manifest_digest = res->top.digest;
  r.module_digest = module_digest;
  r.module_path = cache.BlobPath(module_digest);
  r.size = size;
  r.layout = *layout;
  return r;
}

Result<InspectResult> Inspect(const std::string& ref_text, const ClientOptions& options) {
  auto parsed = ParseReference(ref_text);
  if (!parsed) return parsed.error();
  Client client(options);
  InspectResult out;
  out.ref = *parsed;
  auto top = client.GetManifest(out.ref, out.ref.Identifier());
  if (!top) return top.error();
  out.digest = top->digest;
  out.media_type = top->manifest.media_type;
  if (top->manifest.IsIndex()) {
    out.index = top->manifest;
    auto entry = SelectWasmPlatform(top->manifest);
    if (!entry) {
      out.layout_error = entry.error().message;
      out.manifest = top->manifest;
      return out;
    }
    auto inner = client.GetManifest(out.ref, entry->digest);
    if (!inner) return inner.error();
    out.manifest = std::move(inner->manifest);
  } else {
    out.manifest = std::move(top->manifest);
  }
  if (out.manifest.config.size < (int64_t{1} << 22) && !out.manifest.IsIndex()) {
    if (auto bytes = client.GetBlob(out.ref, out.manifest.config.digest)) {
      if (auto c = ParseImageConfig(*bytes, out.manifest.config.media_type)) out.config = std::move(*c);
    }
  }
  auto layout = DetectLayout(out.manifest, out.config ? &*out.config : nullptr);
  if (layout) out.layout = std::move(*layout);
  else out.layout_error = layout.error().message;
  return out;
}

}  // namespace wasmq::oci
