// File: src/oci/artifact.cc
//
// Artifacts that are not Wasm modules (models): one layer, an artifact type, annotations. The same cache
// as modules: the layer lands in blobs/sha256/ only after its digest is checked, the ref goes into
// index.json (so --offline resolves tags and Gc keeps the blob), and the manifest is kept as a blob so an
// offline pull still knows the annotations.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/digest.h"
#include "oci/util.h"

namespace wasmq::oci {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string DigestRef(const Reference& ref, const std::string& digest) {
  return ref.registry + "/" + ref.repository + "@" + digest;
}
std::string TagRef(const Reference& ref) { return ref.registry + "/" + ref.repository + ":" + ref.tag; }

bool Listed(const std::vector<std::string>& types, const std::string& t) {
  for (const auto& x : types)
    if (x == t) return true;
  return false;
}

// The one layer of an artifact manifest that the caller takes, after the type check.
Result<Descriptor> SelectLayer(const Manifest& m, const ArtifactPullOptions& o, const std::string& what) {
  if (m.IsIndex()) return MakeError(ErrorKind::UnsupportedFormat, what + " is an index, not an artifact manifest");
  if (!o.artifact_type.empty() && m.artifact_type != o.artifact_type && m.config.media_type != o.artifact_type) {
    Error e = MakeError(ErrorKind::UnsupportedFormat, what + " is not a " + o.artifact_type + " artifact");
    e.media_types = {m.artifact_type.empty() ? m.config.media_type : m.artifact_type};
    return e;
  }
  std::vector<Descriptor> found;
  for (const auto& l : m.layers)
    if (o.layer_media_types.empty() || Listed(o.layer_media_types, l.media_type)) found.push_back(l);
  if (found.size() != 1) {
    Error e = MakeError(ErrorKind::UnsupportedFormat,
                        what + (found.empty() ? " has no layer of a wanted type" : " has more than one wanted layer"));
    for (const auto& l : m.layers) e.media_types.push_back(l.media_type);
    return e;
  }
  return found.front();
}

// A cached layer handed out again: re-hashed (streaming), annotations from the cached manifest if any.
Result<ArtifactPullResult> FromCache(Cache& cache, const Reference& ref, const CacheEntry& entry) {
  if (!cache.HasBlob(entry.module_digest))
    return MakeError(ErrorKind::NotCached, ref.String() + ": the index names " + entry.module_digest +
                                               " but the blob is gone from " + cache.dir());
  auto got = Sha256File(cache.BlobPath(entry.module_digest));
  if (!got) return got.error();
  if (*got != entry.module_digest) {
    std::error_code ec;
    fs::remove(cache.BlobPath(entry.module_digest), ec);
    return MakeError(ErrorKind::DigestMismatch, "cached blob " + entry.module_digest +
                                                    " is corrupt (its content has digest " + *got + "); removed it");
  }
  ArtifactPullResult r;
  r.ref = ref;
  r.manifest_digest = entry.manifest_digest;
  r.layer.digest = entry.module_digest;
  r.layer.media_type = entry.layout;
  r.layer.size = entry.size;
  r.path = cache.BlobPath(entry.module_digest);
  if (cache.HasBlob(entry.manifest_digest))
    if (auto bytes = cache.ReadBlob(entry.manifest_digest))
      if (auto m = ParseManifest(*bytes)) {
        r.annotations = m->annotations;
        for (const auto& l : m->layers)
          if (l.digest == entry.module_digest) r.layer.annotations = l.annotations;
      }
  r.from_cache = true;
  (void)cache.Touch(entry.ref);
  return r;
}

}  // namespace

Result<std::string> Sha256File(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return MakeError(ErrorKind::Io, "cannot read " + path);
  base::Sha256Hasher hash;
  std::string buf(1 << 20, '\0');
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.gcount() > 0) hash.Update(std::string_view(buf.data(), static_cast<size_t>(in.gcount())));
  }
  if (in.bad()) return MakeError(ErrorKind::Io, "cannot read " + path);
  return "sha256:" + hash.FinishHex();
}

Result<void> Cache::PutBlobFromFile(const std::string& digest, const std::string& file) {
  if (!IsDigest(digest)) return MakeError(ErrorKind::InvalidArgument, "not a sha256 digest: " + digest);
  static std::atomic<int> counter{0};
  std::error_code ec;
  fs::create_directories(dir_ + "/tmp", ec);
  const std::string tmp = dir_ + "/tmp/import." + std::to_string(getpid()) + "." + std::to_string(counter++);
  {
    std::ifstream in(file, std::ios::binary);
    if (!in) return MakeError(ErrorKind::Io, "cannot read " + file);
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return MakeError(ErrorKind::Io, "cannot write " + tmp);
    base::Sha256Hasher hash;
    std::string buf(1 << 20, '\0');
    while (in) {
      in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
      std::string_view chunk(buf.data(), static_cast<size_t>(in.gcount()));
      hash.Update(chunk);
      out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    }
    out.flush();
    const bool failed = in.bad() || !out;
    const std::string got = "sha256:" + hash.FinishHex();
    if (failed || got != digest) {
      out.close();
      fs::remove(tmp, ec);
      if (failed) return MakeError(ErrorKind::Io, "cannot copy " + file + " into the cache");
      return MakeError(ErrorKind::DigestMismatch, file + " has digest " + got + ", not " + digest);
    }
  }
  return AdoptBlob(digest, tmp);
}

Result<PushResult> PushArtifact(const std::string& file_path, const std::string& ref_text,
                                const ArtifactPushOptions& o) {
  auto parsed = ParseReference(ref_text);
  if (!parsed) return parsed.error();
  const Reference& ref = *parsed;
  if (ref.tag.empty() && !ref.digest.empty())
    return MakeError(ErrorKind::InvalidArgument, "push needs a tag: " + ref_text);
  if (o.artifact_type.empty() || o.layer_media_type.empty())
    return MakeError(ErrorKind::InvalidArgument, "an artifact needs an artifact type and a layer media type");
  std::string bytes;
  if (!internal::ReadFile(file_path, &bytes)) return MakeError(ErrorKind::InvalidArgument, "cannot read " + file_path);
  Client client(o.client);
  const std::string layer_digest = Sha256Digest(bytes), config_digest = Sha256Digest(o.config_json);
  if (auto r = client.PushBlob(ref, config_digest, o.config_json); !r) return r.error();
  if (auto r = client.PushBlob(ref, layer_digest, bytes); !r) return r.error();
  json layer{{"mediaType", o.layer_media_type}, {"digest", layer_digest}, {"size", bytes.size()}};
  if (!o.title.empty()) layer["annotations"] = json{{std::string(media::kTitleAnnotation), o.title}};
  json m{{"schemaVersion", 2},
         {"mediaType", media::kOciManifest},
         {"artifactType", o.artifact_type},
         {"config", {{"mediaType", o.artifact_type}, {"digest", config_digest}, {"size", o.config_json.size()}}},
         {"layers", {layer}}};
  if (!o.annotations.empty()) m["annotations"] = o.annotations;
  const std::string manifest = m.dump();
  auto digest = client.PutManifest(ref, std::string(media::kOciManifest), manifest);
  if (!digest) return digest.error();
  return PushResult{*digest, std::string(media::kOciManifest), static_cast<int64_t>(manifest.size())};
}

Result<ArtifactPullResult> PullArtifact(const std::string& ref_text, const ArtifactPullOptions& o) {
  auto parsed = ParseReference(ref_text);
  if (!parsed) return parsed.error();
  const Reference& ref = *parsed;
  Cache cache(o.cache_dir);
  if (!ref.digest.empty())
    if (auto e = cache.Lookup(DigestRef(ref, ref.digest)); e && cache.HasBlob(e->module_digest))
      return FromCache(cache, ref, *e);
  if (o.offline) {
    const std::string key = ref.digest.empty() ? TagRef(ref) : DigestRef(ref, ref.digest);
    if (auto e = cache.Lookup(key)) return FromCache(cache, ref, *e);
    return MakeError(ErrorKind::NotCached, ref.String() + " is not in the cache (" + cache.dir() +
                                               ") and --offline forbids the network; pull it once online");
  }
  Client client(o.client);
  auto top = client.GetManifest(ref, ref.Identifier());
  if (!top) return top.error();
  auto layer = SelectLayer(top->manifest, o, ref.String());
  if (!layer) return layer.error();
  if (!cache.HasBlob(layer->digest)) {
    const std::string partial = cache.PartialPath(layer->digest);
    if (auto d = client.DownloadBlob(ref, *layer, partial); !d) return d.error();
    if (auto a = cache.AdoptBlob(layer->digest, partial); !a) return a.error();
  } else if (auto got = Sha256File(cache.BlobPath(layer->digest)); !got || *got != layer->digest) {
    std::error_code ec;  // a corrupt cached copy: fetch it again
    fs::remove(cache.BlobPath(layer->digest), ec);
    const std::string partial = cache.PartialPath(layer->digest);
    if (auto d = client.DownloadBlob(ref, *layer, partial); !d) return d.error();
    if (auto a = cache.AdoptBlob(layer->digest, partial); !a) return a.error();
  }
  if (IsDigest(top->digest) && Sha256Digest(top->bytes) == top->digest)
    (void)cache.PutBlob(top->digest, top->bytes);  // for the annotations of later offline pulls
  CacheEntry entry;
  entry.manifest_digest = top->digest;
  entry.module_digest = layer->digest;
  entry.size = layer->size;
  entry.layout = layer->media_type;
  entry.ref = DigestRef(ref, top->digest);
  if (auto w = cache.Record(entry); !w) return w.error();
  if (!ref.tag.empty()) {
    entry.ref = TagRef(ref);
    if (auto w = cache.Record(entry); !w) return w.error();
  }
  ArtifactPullResult r;
  r.ref = ref;
  r.manifest_digest = top->digest;
  r.layer = *layer;
  r.path = cache.BlobPath(layer->digest);
  r.annotations = top->manifest.annotations;
  return r;
}

}  // namespace wasmq::oci
