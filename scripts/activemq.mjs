#!/usr/bin/env node
// A real ActiveMQ Classic broker for tests: fetch it from Maven Central, start throw-away
// instances on free loopback ports (AMQP, AMQP+TLS, OpenWire, JMX), stop them.
//
// Node 20, ESM, node builtins only. Needs a JDK (java + keytool, 17+); the first fetch downloads
// from Maven Central over HTTPS (Maven, `mvn`, only as a fallback); later runs reuse the cache
// in `<repo>/.cache/activemq/` (env ACTIVEMQ_CACHE).
//
//   node scripts/activemq.mjs fetch    # download + unpack once, print the home dir
//   node scripts/activemq.mjs start    # start a broker that outlives this command,
//                                      # write .cache/activemq/state.json, print it
//   node scripts/activemq.mjs stop     # stop the broker named in state.json
//   node scripts/activemq.mjs status   # print state.json and whether the pid is alive
//
// Library use (vitest globalSetup, tests):
//   import { startBroker } from '../scripts/activemq.mjs';
//   const broker = await startBroker();   // { host, amqpPort, amqpsPort, caPem, username, password, ... }
//   ...; await broker.stop();
//
// Version: $ACTIVEMQ_VERSION if set, otherwise the newest 5.x that the repository's
// maven-metadata.xml lists (Maven Central, or $ACTIVEMQ_MAVEN_REPO). As measured here, Maven
// Central lists and serves the binary distribution `org.apache.activemq:apache-activemq` up to
// 5.18.3 (5.18.4+ and 5.19.x are not deployed there as tar.gz:bin). The download goes over HTTPS
// with its size and progress on stderr and a SHA-1 check; `mvn dependency:copy` is the fallback
// when only Maven can reach the repository. The version used is recorded in
// <cache>/resolved-version.json and in every handle.
//
// Persistence: KahaDB in the instance dir (persistent, like Amazon MQ). It makes restart() keep
// persistent messages and lets tests see the real difference between persistent and
// non-persistent messages (e.g. DLQ handling). Pass { persistent: false } for a memory store.

/* global fetch, AbortSignal -- Node 20's own, as in a browser */
import { spawn, spawnSync, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const SCRIPT_DIR = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(SCRIPT_DIR, '..');
/** Queues the restricted user may use (`restrictedUsername` in the handle). */
export const RESTRICTED_PREFIX = 'allowed.';
/** With mvn only: the range whose newest version is used. */
const VERSION_RANGE = '[5,6)';
const DEFAULT_MAVEN_REPO = 'https://repo.maven.apache.org/maven2';
const GROUP = 'org.apache.activemq';
const ARTIFACT = 'apache-activemq';

/** Thrown when java/keytool are missing or too old. */
export class JavaMissingError extends Error {
  constructor(detail) {
    super(`Java 17+ is required to run the test broker: install a JDK${detail ? ` (${detail})` : ''}`);
    this.name = 'JavaMissingError';
    this.code = 'ACTIVEMQ_JAVA_MISSING';
  }
}

/** Thrown when the distribution cannot be downloaded (mvn missing, offline, not served). */
export class ActiveMQFetchError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = 'ActiveMQFetchError';
    this.code = 'ACTIVEMQ_FETCH_FAILED';
  }
}

/** Thrown when the broker does not start (timeout, early exit); `logTail` has the last log lines. */
export class BrokerStartError extends Error {
  constructor(message, logTail) {
    super(`${message}\n--- broker log (tail) ---\n${logTail}`);
    this.name = 'BrokerStartError';
    this.code = 'ACTIVEMQ_START_FAILED';
    this.logTail = logTail;
  }
}

export function cacheDir() {
  return path.resolve(process.env.ACTIVEMQ_CACHE || path.join(REPO_ROOT, '.cache', 'activemq'));
}

export function stateFilePath() {
  return path.resolve(process.env.ACTIVEMQ_STATE_FILE || path.join(cacheDir(), 'state.json'));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rid = (n = 6) => randomBytes(n).toString('hex');

// ---------------------------------------------------------------------------------------------
// Java

let javaChecked = false;
export function checkJava() {
  if (javaChecked) return;
  const r = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (r.error) throw new JavaMissingError(r.error.code === 'ENOENT' ? '`java` not found on PATH' : r.error.message);
  const out = `${r.stderr}${r.stdout}`;
  const m = /version "(\d+)(?:\.(\d+))?/.exec(out);
  if (!m) throw new JavaMissingError(`cannot parse \`java -version\`: ${out.trim().split('\n')[0]}`);
  let major = Number(m[1]);
  if (major === 1) major = Number(m[2]);
  if (major < 17) throw new JavaMissingError(`found Java ${major}`);
  const k = spawnSync('keytool', ['-help'], { encoding: 'utf8' });
  if (k.error) throw new JavaMissingError('`keytool` not found on PATH (a JRE without the JDK tools?)');
  javaChecked = true;
}

// ---------------------------------------------------------------------------------------------
// Fetch

function homeDirFor(version, cache = cacheDir()) {
  return path.join(cache, `apache-activemq-${version}`);
}

function isUnpacked(home) {
  return fs.existsSync(path.join(home, 'bin', 'activemq.jar')) && fs.existsSync(path.join(home, '.civitas-complete'));
}

function run(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    execFile(cmd, args, { maxBuffer: 64 * 1024 * 1024, ...opts }, (error, stdout, stderr) => {
      resolve({ error, code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

async function mvnCopy(version, outDir) {
  const r = await run('mvn', ['-q', '-B', 'dependency:copy',
    `-Dartifact=${GROUP}:${ARTIFACT}:${version}:tar.gz:bin`, `-DoutputDirectory=${outDir}`]);
  if (r.error && r.error.code === 'ENOENT') {
    throw new ActiveMQFetchError('Maven (`mvn`) is required to download ActiveMQ when Maven Central cannot be reached directly: install maven');
  }
  const file = path.join(outDir, `${ARTIFACT}-${version}-bin.tar.gz`);
  return { ok: r.code === 0 && fs.existsSync(file), file, output: `${r.stdout}${r.stderr}` };
}

/** The Maven repository to download from (Maven Central unless ACTIVEMQ_MAVEN_REPO says otherwise). */
export function mavenRepo() {
  return (process.env.ACTIVEMQ_MAVEN_REPO || DEFAULT_MAVEN_REPO).replace(/\/+$/, '');
}

function artifactDir() {
  return `${mavenRepo()}/${GROUP.replace(/\./g, '/')}/${ARTIFACT}`;
}

/** Orders versions like 5.9.0 < 5.18.3 (numerically, part by part). */
export function compareVersions(a, b) {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * The newest 5.x release the repository lists in its maven-metadata.xml (plain x.y.z versions
 * only), or null when the metadata cannot be read. As measured here, Maven Central lists up to
 * 5.18.3 and serves its tar.gz; 5.18.4+ and 5.19.x are not deployed there.
 */
export async function newestServedVersion() {
  let text;
  try {
    const res = await fetch(`${artifactDir()}/maven-metadata.xml`, { signal: AbortSignal.timeout(30_000) });
    if (!res.ok) return null;
    text = await res.text();
  } catch {
    return null;
  }
  const versions = [...text.matchAll(/<version>\s*([^<\s]+)\s*<\/version>/g)].map((m) => m[1]).filter((v) => /^5\.\d+\.\d+$/.test(v));
  versions.sort(compareVersions);
  return versions.at(-1) ?? null;
}

function megabytes(bytes) {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/**
 * Downloads the distribution straight from the repository over HTTPS, saying what and how big,
 * with progress on stderr, and checks its SHA-1 when the repository has one. Returns
 * { ok: true, file } or { ok: false, status } (404: not served), or throws on a network failure.
 */
async function httpDownload(version, outDir, say) {
  const url = `${artifactDir()}/${version}/${ARTIFACT}-${version}-bin.tar.gz`;
  const res = await fetch(url, { signal: AbortSignal.timeout(15 * 60_000) });
  if (!res.ok || res.body === null) return { ok: false, status: res.status };
  const total = Number(res.headers.get('content-length')) || 0;
  say(`downloading ActiveMQ ${version} (${total > 0 ? megabytes(total) : 'size unknown'}) from ${url}`);
  const file = path.join(outDir, `${ARTIFACT}-${version}-bin.tar.gz`);
  const out = fs.createWriteStream(file);
  const sha1 = (await import('node:crypto')).createHash('sha1');
  const tty = process.stderr.isTTY === true;
  let received = 0;
  let shownStep = 0;
  const started = Date.now();
  for await (const chunk of res.body) {
    sha1.update(chunk);
    received += chunk.length;
    if (!out.write(chunk)) await new Promise((r) => out.once('drain', r));
    if (total > 0) {
      const step = Math.floor((received / total) * 10); // every 10%
      if (tty) process.stderr.write(`\r[activemq] ${megabytes(received)} of ${megabytes(total)} (${Math.floor((received / total) * 100)}%)`);
      else if (step > shownStep && step < 10) say(`${megabytes(received)} of ${megabytes(total)} (${step * 10}%)`);
      shownStep = Math.max(shownStep, step);
    }
  }
  await new Promise((resolve, reject) => out.end((e) => (e ? reject(e) : resolve())));
  if (tty && total > 0) process.stderr.write('\n');
  if (total > 0 && received !== total) throw new ActiveMQFetchError(`download of ${url} ended early: ${received} of ${total} bytes`);
  say(`downloaded ${megabytes(received)} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  try {
    const check = await fetch(`${url}.sha1`, { signal: AbortSignal.timeout(30_000) });
    if (check.ok) {
      const expected = (await check.text()).trim().split(/\s+/)[0].toLowerCase();
      const actual = sha1.digest('hex');
      if (expected !== actual) throw new ActiveMQFetchError(`SHA-1 of ${url} is ${actual}, the repository says ${expected}: not used`);
    }
  } catch (e) {
    if (e instanceof ActiveMQFetchError) throw e; // a mismatch; a missing .sha1 is not fatal
  }
  return { ok: true, file };
}

/**
 * Download (once) and unpack (once) the ActiveMQ Classic distribution: $ACTIVEMQ_VERSION if set,
 * otherwise the newest 5.x that the repository's metadata lists. Downloads over HTTPS with its
 * size and progress on stderr (shown even when `quiet`: a first download takes a while), falling
 * back to `mvn dependency:copy` when the repository cannot be reached directly (a proxy Maven
 * knows about).
 * @param {{version?: string, quiet?: boolean}} [options]
 * @returns {Promise<{home: string, version: string, cache: string, fetched: boolean}>}
 */
export async function fetchActiveMQ(options = {}) {
  checkJava();
  const cache = cacheDir();
  await fsp.mkdir(cache, { recursive: true });
  const log = options.quiet ? () => {} : (m) => process.stderr.write(`[activemq] ${m}\n`);
  const say = (m) => process.stderr.write(`[activemq] ${m}\n`);
  const pinned = options.version || process.env.ACTIVEMQ_VERSION;
  const recordFile = path.join(cache, 'resolved-version.json');

  if (pinned && isUnpacked(homeDirFor(pinned, cache))) return finish(pinned, false);
  if (!pinned && fs.existsSync(recordFile)) {
    try {
      const rec = JSON.parse(await fsp.readFile(recordFile, 'utf8'));
      if (rec.version && isUnpacked(homeDirFor(rec.version, cache))) {
        return { home: homeDirFor(rec.version, cache), version: rec.version, cache, fetched: false };
      }
    } catch { /* re-resolve */ }
  }

  const tmp = path.join(cache, `tmp-${process.pid}-${rid()}`);
  await fsp.mkdir(tmp, { recursive: true });
  try {
    let version = pinned || null;
    if (!version) {
      log(`looking up the newest ActiveMQ 5.x in ${artifactDir()}/maven-metadata.xml ...`);
      version = await newestServedVersion();
      if (!version) version = await newestServedVersionWithMvn(tmp);
      if (!version) {
        throw new ActiveMQFetchError(`could not read the list of ActiveMQ versions from ${mavenRepo()} (directly or with mvn). Is Maven Central reachable? Set ACTIVEMQ_VERSION to skip the lookup.`);
      }
    }
    if (isUnpacked(homeDirFor(version, cache))) return finish(version, false);
    let tarball = path.join(cache, `${ARTIFACT}-${version}-bin.tar.gz`);
    if (!fs.existsSync(tarball)) {
      let got;
      try {
        got = await httpDownload(version, tmp, say);
      } catch (e) {
        if (e instanceof ActiveMQFetchError) throw e;
        say(`cannot download from ${mavenRepo()} directly (${e.cause?.code ?? e.message}); trying mvn dependency:copy (no progress shown)`);
        const r = await mvnCopy(version, tmp);
        got = r.ok ? { ok: true, file: r.file } : { ok: false, status: r.output.split('\n').slice(-5).join(' ') };
        if (r.ok) say(`downloaded ${megabytes(fs.statSync(r.file).size)} with mvn`);
      }
      if (!got.ok) {
        throw new ActiveMQFetchError(`${mavenRepo()} does not serve ${GROUP}:${ARTIFACT}:${version}:tar.gz:bin (${got.status})` +
          (pinned ? '; unset ACTIVEMQ_VERSION to use the newest version it serves' : ''));
      }
      tarball = got.file;
    }
    // keep the tarball in the cache (atomic rename; another process may have won the race)
    const finalTar = path.join(cache, `${ARTIFACT}-${version}-bin.tar.gz`);
    if (tarball !== finalTar) await fsp.rename(tarball, finalTar).catch(() => {});
    const home = homeDirFor(version, cache);
    if (!isUnpacked(home)) {
      log(`unpacking ${path.basename(finalTar)} ...`);
      const unpackDir = path.join(tmp, 'unpack');
      await fsp.mkdir(unpackDir, { recursive: true });
      const t = await run('tar', ['-xzf', finalTar, '-C', unpackDir]);
      if (t.code !== 0) throw new ActiveMQFetchError(`tar failed: ${t.stderr}`);
      const inner = path.join(unpackDir, `apache-activemq-${version}`);
      await fsp.writeFile(path.join(inner, '.civitas-complete'), `${new Date().toISOString()}\n`);
      try {
        if (fs.existsSync(home)) await fsp.rm(home, { recursive: true, force: true }); // incomplete leftover
        await fsp.rename(inner, home);
      } catch (e) {
        if (!isUnpacked(home)) throw e; // otherwise a concurrent fetch finished first
      }
    }
    return finish(version, true);
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true });
  }

  async function finish(version, fetched) {
    if (!pinned) {
      const t = `${recordFile}.${rid()}`;
      await fsp.writeFile(t, JSON.stringify({ version, source: mavenRepo(), at: new Date().toISOString() }, null, 2));
      await fsp.rename(t, recordFile);
    }
    return { home: homeDirFor(version, cache), version, cache, fetched };
  }
}

/** Newest 5.x by Maven's own resolution of the metadata (for a repository only Maven can reach), or null. */
async function newestServedVersionWithMvn(tmp) {
  const dir = path.join(tmp, 'probe');
  await fsp.mkdir(dir, { recursive: true });
  await fsp.writeFile(path.join(dir, 'pom.xml'), `<project xmlns="http://maven.apache.org/POM/4.0.0">
<modelVersion>4.0.0</modelVersion><groupId>local.probe</groupId><artifactId>probe</artifactId><version>1</version>
<dependencies><dependency><groupId>${GROUP}</groupId><artifactId>${ARTIFACT}</artifactId>
<version>${VERSION_RANGE}</version><type>pom</type></dependency></dependencies></project>\n`);
  const out = path.join(dir, 'list.txt');
  const r = await run('mvn', ['-q', '-B', 'dependency:list', '-DexcludeTransitive=true', `-DoutputFile=${out}`], { cwd: dir });
  if (r.error && r.error.code === 'ENOENT') return null;
  const text = fs.existsSync(out) ? await fsp.readFile(out, 'utf8') : '';
  const m = new RegExp(`${GROUP}:${ARTIFACT}:pom:([0-9][^:\\s]*)`).exec(text);
  return m ? m[1] : null;
}

// ---------------------------------------------------------------------------------------------
// Ports

/** A free TCP port on 127.0.0.1 (bind port 0, read it, close). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function freePorts(n) {
  const ports = new Set();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

function canConnect(port, host = '127.0.0.1', timeoutMs = 1000) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    const done = (ok) => { s.destroy(); resolve(ok); };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

// ---------------------------------------------------------------------------------------------
// Instance config

const xmlEscape = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function activemqXml(cfg) {
  const ssl = `needClientAuth=false&amp;transport.transformer=jms`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by scripts/activemq.mjs for a throw-away test broker. -->
<beans xmlns="http://www.springframework.org/schema/beans"
       xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
       xsi:schemaLocation="http://www.springframework.org/schema/beans http://www.springframework.org/schema/beans/spring-beans.xsd
       http://activemq.apache.org/schema/core http://activemq.apache.org/schema/core/activemq-core.xsd">

  <broker xmlns="http://activemq.apache.org/schema/core" brokerName="civitas-test"
          dataDirectory="${xmlEscape(cfg.dataDir)}" persistent="${cfg.persistent}" useJmx="true"
          schedulerSupport="false" advisorySupport="true">

    <destinationPolicy>
      <policyMap>
        <policyEntries>
          <!-- The broker default, spelled out: one shared DLQ "ActiveMQ.DLQ"; non-persistent
               messages are NOT dead-lettered (processNonPersistent=false), expired ones are. -->
          <policyEntry queue=">">
            <deadLetterStrategy>
              <sharedDeadLetterStrategy processExpired="true" processNonPersistent="false"/>
            </deadLetterStrategy>
          </policyEntry>
          <policyEntry topic=">">
            <pendingMessageLimitStrategy>
              <constantPendingMessageLimitStrategy limit="1000"/>
            </pendingMessageLimitStrategy>
          </policyEntry>
        </policyEntries>
      </policyMap>
    </destinationPolicy>

    <!-- JMX on a private loopback port (for queueStats via \`activemq query\`); no web console. -->
    <managementContext>
      <managementContext createConnector="true" connectorHost="127.0.0.1"
                         connectorPort="${cfg.jmxPort}" rmiServerPort="${cfg.rmiPort}"/>
    </managementContext>

${cfg.persistent ? `    <persistenceAdapter>
${kahaDbXml(cfg)}
    </persistenceAdapter>
` : ''}
    <plugins>
      <!-- Authentication required. The main user (group admins) may do everything; the restricted
           user (group institution) may only use queues under "${RESTRICTED_PREFIX}", as an institution's
           user on Amazon MQ may only read its own queue. -->
      <simpleAuthenticationPlugin anonymousAccessAllowed="false">
        <users>
          <authenticationUser username="${xmlEscape(cfg.username)}" password="${xmlEscape(cfg.password)}" groups="admins,users"/>
          <authenticationUser username="${xmlEscape(cfg.restrictedUsername)}" password="${xmlEscape(cfg.restrictedPassword)}" groups="institution"/>
        </users>
      </simpleAuthenticationPlugin>
      <authorizationPlugin>
        <map>
          <authorizationMap>
            <authorizationEntries>
              <authorizationEntry queue=">" read="admins" write="admins" admin="admins"/>
              <authorizationEntry queue="${RESTRICTED_PREFIX}>" read="admins,institution" write="admins,institution" admin="admins,institution"/>
              <authorizationEntry topic=">" read="admins" write="admins" admin="admins"/>
              <authorizationEntry topic="ActiveMQ.Advisory.>" read="admins,institution" write="admins,institution" admin="admins,institution"/>
            </authorizationEntries>
          </authorizationMap>
        </map>
      </authorizationPlugin>
    </plugins>

    <systemUsage>
      <systemUsage>
        <memoryUsage><memoryUsage percentOfJvmHeap="70"/></memoryUsage>
        <storeUsage><storeUsage limit="2 gb"/></storeUsage>
        <tempUsage><tempUsage limit="1 gb"/></tempUsage>
      </systemUsage>
    </systemUsage>

    <sslContext>
      <sslContext keyStore="file:${xmlEscape(cfg.keystorePath)}" keyStorePassword="${xmlEscape(cfg.keystorePassword)}"
                  keyStoreType="PKCS12"/>
    </sslContext>

    <transportConnectors>
      <transportConnector name="openwire" uri="tcp://127.0.0.1:${cfg.openwirePort}?maximumConnections=1000&amp;wireFormat.maxFrameSize=104857600"/>
      <transportConnector name="amqp" uri="amqp://127.0.0.1:${cfg.amqpPort}?transport.transformer=jms&amp;maximumConnections=1000&amp;wireFormat.maxFrameSize=104857600"/>
      <transportConnector name="amqp+ssl" uri="amqp+ssl://127.0.0.1:${cfg.amqpsPort}?${ssl}&amp;maximumConnections=1000&amp;wireFormat.maxFrameSize=104857600"/>
    </transportConnectors>

    <shutdownHooks>
      <bean xmlns="http://www.springframework.org/schema/beans" class="org.apache.activemq.hooks.SpringContextHook"/>
    </shutdownHooks>
  </broker>
  <!-- jetty.xml (web console, port 8161) deliberately NOT imported. -->
</beans>
`;
}

/**
 * The KahaDB store: in the instance's own data dir, or (shared-storage master/slave) in
 * `sharedDataDir`, whose file lock elects the active broker: the other waits on it, polling every
 * `lockAcquireSleepInterval` (the shared file locker's default is 10000 ms), and opens no
 * transport connector until it has it.
 */
function kahaDbXml(cfg) {
  if (!cfg.sharedDataDir) return `      <kahaDB directory="${xmlEscape(cfg.dataDir)}/kahadb" journalMaxFileLength="16mb"/>`;
  const interval = cfg.lockAcquireSleepIntervalMs ? ` lockAcquireSleepInterval="${Number(cfg.lockAcquireSleepIntervalMs)}"` : '';
  return `      <kahaDB directory="${xmlEscape(cfg.sharedDataDir)}" journalMaxFileLength="16mb">
        <locker><shared-file-locker${interval}/></locker>
      </kahaDB>`;
}

async function makeKeystore(confDir, password) {
  const keystorePath = path.join(confDir, 'broker.p12');
  const caPath = path.join(confDir, 'broker-cert.pem');
  const g = await run('keytool', ['-genkeypair', '-alias', 'broker', '-keyalg', 'RSA', '-keysize', '2048',
    '-validity', '3650', '-dname', 'CN=localhost, OU=test, O=civitas-outreach', '-ext', 'SAN=dns:localhost,ip:127.0.0.1',
    '-storetype', 'PKCS12', '-keystore', keystorePath, '-storepass', password, '-keypass', password, '-noprompt']);
  if (g.code !== 0) throw new Error(`keytool -genkeypair failed: ${g.stderr || g.stdout}`);
  const e = await run('keytool', ['-exportcert', '-rfc', '-alias', 'broker', '-keystore', keystorePath,
    '-storetype', 'PKCS12', '-storepass', password, '-file', caPath]);
  if (e.code !== 0) throw new Error(`keytool -exportcert failed: ${e.stderr || e.stdout}`);
  return { keystorePath, caPath, caPem: await fsp.readFile(caPath, 'utf8') };
}

// ---------------------------------------------------------------------------------------------
// Process control

const liveChildren = new Set();
let exitHookInstalled = false;
function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pid of liveChildren) { try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ } }
  });
}

function groupAlive(pgid) {
  try { process.kill(-pgid, 0); return true; } catch (e) { return e.code === 'EPERM'; }
}

/**
 * The broker runs in its own process group (bin/activemq is a shell that starts java): signal
 * the whole group. SIGTERM is graceful (the JVM shutdown hook stops the broker); SIGKILL after
 * timeoutMs.
 */
async function killGracefully(pgid, { timeoutMs = 20000 } = {}) {
  try { process.kill(-pgid, 'SIGTERM'); } catch { return; }
  const end = Date.now() + timeoutMs;
  while (Date.now() < end && groupAlive(pgid)) await sleep(100);
  if (!groupAlive(pgid)) return;
  try { process.kill(-pgid, 'SIGKILL'); } catch { /* gone */ }
  const end2 = Date.now() + 5000;
  while (Date.now() < end2 && groupAlive(pgid)) await sleep(100);
}

function tailFile(file, lines = 40) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch { return '(no log)'; }
}

function brokerEnv(home, inst, memory) {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('ACTIVEMQ_') && k !== 'ACTIVEMQ_CACHE') delete env[k];
  Object.assign(env, {
    ACTIVEMQ_HOME: home,
    ACTIVEMQ_BASE: inst,
    ACTIVEMQ_CONF: path.join(inst, 'conf'),
    ACTIVEMQ_DATA: path.join(inst, 'data'),
    ACTIVEMQ_TMP: path.join(inst, 'tmp'),
    ACTIVEMQ_PIDFILE: path.join(inst, 'activemq.pid'),
    ACTIVEMQ_OPTS_MEMORY: memory,
  });
  return env;
}

/**
 * Launch `bin/activemq console` for an instance and wait until it is ready.
 * Returns { pid, child }.
 */
async function launch(st, { detached, watchdog, startTimeoutMs, echo, standby = false }) {
  const consoleLog = path.join(st.instanceDir, 'console.log');
  const fd = fs.openSync(consoleLog, 'a');
  const logStart = fs.fstatSync(fd).size; // only look at what this launch writes (restart appends)
  const child = spawn(path.join(st.home, 'bin', 'activemq'), ['console'], {
    cwd: st.instanceDir,
    env: brokerEnv(st.home, st.instanceDir, st.memory),
    stdio: ['ignore', fd, fd],
    detached: true, // own process group, so that stop() can signal the shell AND its java child
  });
  fs.closeSync(fd);
  const pid = child.pid;
  if (!pid) throw new BrokerStartError('could not spawn bin/activemq', tailFile(consoleLog));
  let exited = null;
  child.once('exit', (code, signal) => { exited = { code, signal }; });
  child.unref();
  if (!detached) {
    liveChildren.add(pid);
    installExitHook();
    // Our 'exit' hook cannot run if this process is SIGKILLed: a tiny shell watchdog kills the
    // broker when we are gone, and exits by itself when the broker exits.
    if (watchdog) {
      const w = spawn('sh', ['-c',
        'while kill -0 "$1" 2>/dev/null; do if ! kill -0 "-$2" 2>/dev/null; then exit 0; fi; sleep 2; done; ' +
        'kill -TERM "-$2" 2>/dev/null; sleep 15; kill -KILL "-$2" 2>/dev/null', 'activemq-watchdog', String(process.pid), String(pid)],
      { stdio: 'ignore', detached: true });
      w.unref();
    }
  }

  const startedRe = STARTED_RE;
  const deadline = Date.now() + startTimeoutMs;
  let sawStarted = false;
  let echoed = 0;
  while (Date.now() < deadline) {
    let text = '';
    try { text = fs.readFileSync(consoleLog).subarray(logStart).toString('utf8'); } catch { /* not yet */ }
    if (echo && text.length > echoed) { process.stderr.write(text.slice(echoed)); echoed = text.length; }
    if (!sawStarted && startedRe.test(text)) sawStarted = true;
    if (/Address already in use|BindException/.test(text) && !sawStarted) {
      await killGracefully(pid, { timeoutMs: 5000 });
      liveChildren.delete(pid);
      const err = new BrokerStartError('a broker port was taken by someone else', tailFile(consoleLog));
      err.portInUse = true;
      throw err;
    }
    if (exited || !groupAlive(pid)) {
      liveChildren.delete(pid);
      throw new BrokerStartError(`bin/activemq exited early (${JSON.stringify(exited)})`, tailFile(consoleLog));
    }
    if (standby && !sawStarted && STANDBY_RE.test(text)) return { pid, child };
    if (sawStarted) {
      const ok = await Promise.all([st.amqpPort, st.amqpsPort, st.openwirePort].map((p) => canConnect(p)));
      if (ok.every(Boolean)) return { pid, child };
    }
    await sleep(200);
  }
  await killGracefully(pid, { timeoutMs: 5000 });
  liveChildren.delete(pid);
  throw new BrokerStartError(`broker not ready after ${startTimeoutMs} ms`, tailFile(consoleLog));
}

/** What a broker logs when it finds the shared store locked and waits as the standby. */
export const STANDBY_RE = /is locked by another server\. This broker is now in slave mode waiting a lock to be acquired/;
/** What a broker logs once it serves (the standby: once it has taken the lock and recovered the store). */
export const STARTED_RE = /Apache ActiveMQ (\S+) \([^)]*\) started/;

function javaToolArgs(st) {
  return [
    `-Dactivemq.home=${st.home}`, `-Dactivemq.base=${st.instanceDir}`,
    `-Dactivemq.conf=${path.join(st.instanceDir, 'conf')}`, `-Dactivemq.data=${path.join(st.instanceDir, 'tooldata')}`,
    `-Djava.io.tmpdir=${path.join(st.instanceDir, 'tmp')}`,
    '-Xmx256M', '-jar', path.join(st.home, 'bin', 'activemq.jar'),
  ];
}

/**
 * Run an `activemq <task> ...` tool against the instance. This is what `bin/activemq <task>`
 * runs; we call java directly because bin/activemq re-parses its arguments with `sh -c`,
 * which mangles message texts with spaces or quotes (e.g. JSON).
 */
async function runTool(st, args, { timeoutMs = 60000 } = {}) {
  await fsp.mkdir(path.join(st.instanceDir, 'tooldata'), { recursive: true });
  const r = await run('java', [...javaToolArgs(st), ...args], { timeout: timeoutMs, cwd: st.instanceDir });
  return r;
}

function parseQueryOutput(text) {
  // `activemq query --view a,b,c` prints "a = 1" lines per MBean.
  const out = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (m) out[m[1]] = m[2];
  }
  return out;
}

/**
 * Remove instance dirs left behind by brokers that are gone (e.g. the test process was killed
 * and the watchdog stopped the broker). Dirs without instance.json are left alone for 10 minutes
 * (another process may be starting a broker in it right now).
 */
async function sweepStaleInstances(instances) {
  let names = [];
  try { names = await fsp.readdir(instances); } catch { return; }
  for (const name of names) {
    const dir = path.join(instances, name);
    try {
      const info = JSON.parse(await fsp.readFile(path.join(dir, 'instance.json'), 'utf8'));
      if (info.pgid && !groupAlive(info.pgid)) await fsp.rm(dir, { recursive: true, force: true });
    } catch {
      try {
        const { mtimeMs } = await fsp.stat(dir);
        if (Date.now() - mtimeMs > 10 * 60 * 1000) await fsp.rm(dir, { recursive: true, force: true });
      } catch { /* raced */ }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Public API

/**
 * @typedef {object} BrokerHandle
 * @property {'127.0.0.1'} host
 * @property {number} amqpPort      plain AMQP 1.0 (amqp://)
 * @property {number} amqpsPort     AMQP 1.0 over TLS (amqp+ssl://), self-signed cert: trust caPem
 * @property {number} openwirePort  OpenWire (tcp://), for the Java producer tool
 * @property {number} jmxPort       JMX RMI connector (loopback), used by queueStats
 * @property {string} username
 * @property {string} password
 * @property {string} caPem         PEM of the broker certificate (SAN localhost, 127.0.0.1)
 * @property {string} caPath
 * @property {string} instanceDir
 * @property {string} home          the unpacked ActiveMQ distribution
 * @property {string} version       ActiveMQ version actually running
 * @property {boolean} persistent
 * @property {number} pid          process-group id of the broker (bin/activemq shell + java)
 * @property {string} logPath       broker console output
 * @property {() => Promise<void>} stop
 * @property {() => Promise<void>} restart
 * @property {(o: {queue: string, message: string, count?: number, persistent?: boolean, messageSize?: number}) => Promise<void>} produceOpenWire
 * @property {(queue: string) => Promise<{enqueued: number, dequeued: number, size: number, consumers: number, producers: number, dispatched: number, inFlight: number, expired: number}|null>} queueStats
 */

/**
 * Start a fresh broker instance.
 * @param {{
 *   username?: string, password?: string, persistent?: boolean, memory?: string,
 *   startTimeoutMs?: number, stopTimeoutMs?: number, version?: string, detached?: boolean,
 *   watchdog?: boolean, echo?: boolean, keepInstanceDir?: boolean, quiet?: boolean,
 * }} [options]
 * @returns {Promise<BrokerHandle>}
 */
export async function startBroker(options = {}) {
  const { home, version } = await fetchActiveMQ({ version: options.version, quiet: options.quiet });
  const instances = path.join(cacheDir(), 'instances');
  await fsp.mkdir(instances, { recursive: true });
  await sweepStaleInstances(instances);
  const instanceDir = await fsp.mkdtemp(path.join(instances, `${Date.now().toString(36)}-`));
  const st = {
    home, version, instanceDir, dataDir: path.join(instanceDir, 'data'),
    username: options.username || 'civitas',
    password: options.password || rid(12),
    restrictedUsername: 'institution',
    restrictedPassword: rid(12),
    persistent: options.persistent !== false || !!options.sharedDataDir,
    memory: options.memory || '-Xms64M -Xmx512M',
    sharedDataDir: options.sharedDataDir ? path.resolve(options.sharedDataDir) : undefined,
    lockAcquireSleepIntervalMs: options.lockAcquireSleepIntervalMs,
  };
  const launchOpts = {
    detached: !!options.detached,
    watchdog: options.watchdog !== false,
    startTimeoutMs: options.startTimeoutMs || 90000,
    echo: !!options.echo,
    standby: !!options.standby,
  };
  const stopTimeoutMs = options.stopTimeoutMs || 20000;
  try {
    // conf/: copy of the distribution's (log4j2.properties, login.config, ...), our activemq.xml
    const confDir = path.join(instanceDir, 'conf');
    await fsp.cp(path.join(home, 'conf'), confDir, { recursive: true });
    for (const f of ['jetty.xml', 'jetty-realm.properties', 'broker.ks', 'broker.ts', 'credentials.properties', 'credentials-enc.properties']) {
      await fsp.rm(path.join(confDir, f), { force: true });
    }
    await fsp.mkdir(path.join(instanceDir, 'data'), { recursive: true });
    await fsp.mkdir(path.join(instanceDir, 'tmp'), { recursive: true });
    if (options.tls) {
      // the same certificate as the other broker of a pair: one CA for both endpoints
      st.keystorePassword = options.tls.keystorePassword;
      st.keystorePath = path.join(confDir, 'broker.p12');
      st.caPath = path.join(confDir, 'broker-cert.pem');
      await fsp.copyFile(options.tls.keystorePath, st.keystorePath);
      await fsp.copyFile(options.tls.caPath, st.caPath);
      st.caPem = await fsp.readFile(st.caPath, 'utf8');
    } else {
      st.keystorePassword = rid(12);
      Object.assign(st, await makeKeystore(confDir, st.keystorePassword));
    }

    let lastErr;
    for (let attempt = 0; attempt < 3; attempt++) {
      const [amqpPort, amqpsPort, openwirePort, jmxPort, rmiPort] = await freePorts(5);
      Object.assign(st, { amqpPort, amqpsPort, openwirePort, jmxPort, rmiPort });
      await fsp.writeFile(path.join(confDir, 'activemq.xml'), activemqXml(st));
      try {
        const { pid } = await launch(st, launchOpts);
        st.pid = pid;
        await fsp.writeFile(path.join(instanceDir, 'instance.json'), JSON.stringify({ pgid: pid, owner: process.pid }));
        lastErr = null;
        break;
      } catch (e) {
        lastErr = e;
        if (!e.portInUse) break;
      }
    }
    if (lastErr) throw lastErr;
  } catch (e) {
    if (!options.keepInstanceDir) await fsp.rm(instanceDir, { recursive: true, force: true });
    throw e;
  }

  let stopped = false;
  const handle = {
    host: '127.0.0.1',
    amqpPort: st.amqpPort,
    amqpsPort: st.amqpsPort,
    openwirePort: st.openwirePort,
    jmxPort: st.jmxPort,
    username: st.username,
    password: st.password,
    restrictedUsername: st.restrictedUsername,
    restrictedPassword: st.restrictedPassword,
    restrictedQueuePrefix: RESTRICTED_PREFIX,
    caPem: st.caPem,
    caPath: st.caPath,
    instanceDir,
    home,
    version,
    persistent: st.persistent,
    pid: st.pid,
    logPath: path.join(instanceDir, 'console.log'),
    get amqpUrl() { return `amqp://127.0.0.1:${st.amqpPort}`; },
    get amqpsUrl() { return `amqp+ssl://127.0.0.1:${st.amqpsPort}`; },
    get openwireUrl() { return `tcp://127.0.0.1:${st.openwirePort}`; },

    /** Graceful stop (SIGTERM, SIGKILL after stopTimeoutMs), then remove the instance dir. */
    async stop() {
      if (stopped) return;
      stopped = true;
      await killGracefully(st.pid, { timeoutMs: stopTimeoutMs });
      liveChildren.delete(st.pid);
      if (!options.keepInstanceDir) await fsp.rm(instanceDir, { recursive: true, force: true });
    },

    /**
     * Stop and start again on the same ports and data dir (persistent messages survive). With
     * `{ standby: true }` (a shared-store pair whose other broker holds the lock) it resolves once
     * this one waits on the lock, not once it serves.
     */
    async restart(restartOptions = {}) {
      if (stopped) throw new Error('broker was stopped');
      // no instance.json while restarting, so a concurrent sweepStaleInstances leaves the dir alone
      await fsp.rm(path.join(instanceDir, 'instance.json'), { force: true });
      await killGracefully(st.pid, { timeoutMs: stopTimeoutMs });
      liveChildren.delete(st.pid);
      const { pid } = await launch(st, { ...launchOpts, standby: !!restartOptions.standby });
      st.pid = pid;
      handle.pid = pid;
      await fsp.writeFile(path.join(instanceDir, 'instance.json'), JSON.stringify({ pgid: pid, owner: process.pid }));
    },

    /** Kill -9 the broker (crash simulation); restart() brings it back. */
    async kill() {
      try { process.kill(-st.pid, 'SIGKILL'); } catch { /* gone */ }
      const end = Date.now() + 5000;
      while (Date.now() < end && groupAlive(st.pid)) await sleep(100);
    },

    /**
     * Send `count` (default 1) JMS TextMessages with body `message` over OpenWire, using
     * ActiveMQ's own producer tool (`activemq producer`). persistent defaults to true.
     * With messageSize > 0 the tool sends BytesMessages of that size instead (body ignored).
     */
    produceOpenWire: (opts) => produceOpenWire(st, opts),

    /**
     * Queue statistics over JMX (`activemq query`); null if the queue does not exist; throws if an
     * attribute is missing. ~1-2 s.
     */
    queueStats: (queue) => queueStats(st, queue),

    /** Queue counters every few ms from one JVM (see sampleQueue). */
    sampleQueue: (queue, opts) => sampleQueue(st, queue, opts),

    /** The broker's console log from byte `offset` on (e.g. to read when it took the store's lock). */
    readLog(offset = 0) {
      try { return fs.readFileSync(path.join(instanceDir, 'console.log')).subarray(offset).toString('utf8'); } catch { return ''; }
    },

    /** The console log's size in bytes now (an offset for readLog). */
    logSize() {
      try { return fs.statSync(path.join(instanceDir, 'console.log')).size; } catch { return 0; }
    },

    /** Plain JSON for state.json (what a vitest globalSetup needs). */
    toJSON() {
      return {
        host: '127.0.0.1', amqpPort: st.amqpPort, amqpsPort: st.amqpsPort, openwirePort: st.openwirePort,
        jmxPort: st.jmxPort, username: st.username, password: st.password, caPath: st.caPath,
        restrictedUsername: st.restrictedUsername, restrictedPassword: st.restrictedPassword, restrictedQueuePrefix: RESTRICTED_PREFIX,
        instanceDir, home, version, persistent: st.persistent, pid: st.pid, detached: launchOpts.detached,
        logPath: path.join(instanceDir, 'console.log'),
      };
    },
  };
  keystorePasswords.set(handle, st.keystorePassword);
  return handle;
}

/**
 * Shared-storage master/slave, as Amazon MQ runs an active/standby broker: two brokers with their
 * own ports (and the same certificate and users) whose KahaDB is one directory. The first takes
 * the store's lock and serves; the second waits on the lock (`STANDBY_RE` in its log), with no
 * transport connector open, until the first dies. Returns `{ active, standby, dataDir, stop() }`
 * as started (which one serves changes as they are killed and restarted).
 * @param {{ lockAcquireSleepIntervalMs?: number, username?: string, password?: string,
 *   memory?: string, quiet?: boolean, startTimeoutMs?: number, stopTimeoutMs?: number }} [options]
 */
export async function startPair(options = {}) {
  await fetchActiveMQ({ quiet: options.quiet });
  const shared = path.join(cacheDir(), 'instances', `pair-${Date.now().toString(36)}-${rid(3)}`);
  await fsp.mkdir(shared, { recursive: true });
  const common = { ...options, username: options.username || 'civitas', password: options.password || rid(12), sharedDataDir: shared };
  let active;
  let standby;
  try {
    active = await startBroker(common);
    const tlsDir = path.join(active.instanceDir, 'conf');
    const keystorePassword = await keystorePasswordOf(active);
    standby = await startBroker({ ...common, standby: true,
      tls: { keystorePath: path.join(tlsDir, 'broker.p12'), caPath: active.caPath, keystorePassword } });
  } catch (e) {
    await active?.stop();
    await fsp.rm(shared, { recursive: true, force: true });
    throw e;
  }
  return {
    active,
    standby,
    dataDir: shared,
    async stop() {
      await Promise.all([active.stop(), standby.stop()]);
      await fsp.rm(shared, { recursive: true, force: true });
    },
  };
}

const keystorePasswords = new WeakMap();
async function keystorePasswordOf(handle) {
  const p = keystorePasswords.get(handle);
  if (!p) throw new Error('not a broker started by this module');
  return p;
}

/** Send `count` persistent JMS TextMessages over OpenWire with ActiveMQ's own producer tool. */
async function produceOpenWire(st, { queue, message, count = 1, persistent = true, messageSize } = {}) {
  if (!queue) throw new Error('produceOpenWire: queue is required');
  const dest = /^(queue|topic):\/\//.test(queue) ? queue : `queue://${queue}`;
  const args = ['producer', '--brokerUrl', `tcp://127.0.0.1:${st.openwirePort}`, '--user', st.username,
    '--password', st.password, '--destination', dest, '--messageCount', String(count),
    '--persistent', String(persistent)];
  if (messageSize) args.push('--messageSize', String(messageSize));
  else args.push('--message', message == null ? '' : String(message));
  const r = await runTool(st, args);
  const produced = /Produced: (\d+) messages/.exec(r.stdout + r.stderr);
  if (r.code !== 0 || !produced || Number(produced[1]) !== count) {
    throw new Error(`activemq producer failed (exit ${r.code}):\n${(r.stdout + r.stderr).split('\n').slice(-30).join('\n')}`);
  }
}

async function queueStats(st, queue) {
  const name = queue.replace(/^queue:\/\//, '');
  const view = 'EnqueueCount,DequeueCount,QueueSize,ConsumerCount,ProducerCount,DispatchCount,InFlightCount,ExpiredCount,Name';
  const r = await runTool(st, ['query', '--jmxurl', `service:jmx:rmi:///jndi/rmi://127.0.0.1:${st.jmxPort}/jmxrmi`,
    `-QQueue=${name}`, '--view', view]);
  if (r.code !== 0) throw new Error(`activemq query failed (exit ${r.code}): ${(r.stdout + r.stderr).slice(-2000)}`);
  const v = parseQueryOutput(r.stdout);
  if (v.Name !== name) return null;
  // A missing or unreadable attribute is an error, never a 0 (a 0 would pass for "empty queue").
  const n = (k) => {
    const x = v[k] === undefined || v[k] === '' ? NaN : Number(v[k]);
    if (!Number.isFinite(x)) throw new Error(`activemq query: no numeric ${k} for queue ${name} in:\n${r.stdout.slice(-2000)}`);
    return x;
  };
  return {
    enqueued: n('EnqueueCount'), dequeued: n('DequeueCount'), size: n('QueueSize'),
    consumers: n('ConsumerCount'), producers: n('ProducerCount'), dispatched: n('DispatchCount'),
    inFlight: n('InFlightCount'), expired: n('ExpiredCount'),
  };
}

// A JMX sampler that stays up: `activemq query` starts a JVM per reading (1-2 s), too slow to
// watch a counter that moves in milliseconds. Java 11+ runs a single source file directly (this
// needs the JDK's compiler, which a JDK installs; keytool already needs a JDK here).
const SAMPLER_SOURCE = `import javax.management.*;
import javax.management.remote.*;

public class QueueSampler {
  public static void main(String[] a) throws Exception {
    JMXConnector c = JMXConnectorFactory.connect(new JMXServiceURL("service:jmx:rmi:///jndi/rmi://127.0.0.1:" + a[0] + "/jmxrmi"));
    MBeanServerConnection m = c.getMBeanServerConnection();
    ObjectName pattern = new ObjectName("org.apache.activemq:type=Broker,brokerName=*,destinationType=Queue,destinationName=" + a[1]);
    long interval = Long.parseLong(a[2]);
    String[] attrs = {"InFlightCount", "DispatchCount", "DequeueCount", "EnqueueCount", "QueueSize"};
    Thread stdin = new Thread(() -> { try { while (System.in.read() >= 0) {} } catch (Exception e) {} System.exit(0); });
    stdin.setDaemon(true);
    stdin.start();
    System.out.println("ready");
    System.out.flush();
    while (true) {
      java.util.Set<ObjectName> names = m.queryNames(pattern, null);
      StringBuilder line = new StringBuilder().append(System.currentTimeMillis());
      if (names.isEmpty()) line.append(" none");
      else for (Object o : m.getAttributes(names.iterator().next(), attrs)) line.append(' ').append(((Attribute) o).getValue());
      System.out.println(line);
      System.out.flush();
      Thread.sleep(interval);
    }
  }
}
`;

/**
 * Start sampling a queue's counters over JMX every `intervalMs` (default 20) from one long-lived
 * JVM. `ready` resolves once the JMX connection is up; `samples` fills as readings come; `stop()`
 * ends the JVM and resolves with every sample. A sample has `exists: false` while the broker
 * does not know the queue (then its counters are absent, not 0).
 */
function sampleQueue(st, queue, { intervalMs = 20 } = {}) {
  const name = queue.replace(/^queue:\/\//, '');
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new Error(`sampleQueue: unsupported queue name ${JSON.stringify(name)}`);
  const dir = path.join(st.instanceDir, 'tmp');
  fs.mkdirSync(dir, { recursive: true });
  const source = path.join(dir, 'QueueSampler.java');
  fs.writeFileSync(source, SAMPLER_SOURCE);
  const child = spawn('java', ['-Xmx64M', source, String(st.jmxPort), name, String(intervalMs)], { stdio: ['pipe', 'pipe', 'pipe'] });
  const samples = [];
  let stderr = '';
  let buffered = '';
  let markReady;
  let failReady;
  const ready = new Promise((resolve, reject) => { markReady = resolve; failReady = reject; });
  ready.catch(() => {}); // reported to whoever awaits ready or stop()
  child.stderr.on('data', (d) => { stderr += d; });
  child.stdout.on('data', (d) => {
    buffered += d;
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (line === 'ready') { markReady(); continue; }
      const f = line.split(' ');
      if (f[1] === 'none') { samples.push({ at: Number(f[0]), exists: false }); continue; }
      const [at, inFlight, dispatched, dequeued, enqueued, size] = f.map(Number);
      samples.push({ at, exists: true, inFlight, dispatched, dequeued, enqueued, size });
    }
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => {
    failReady(new Error(`JMX sampler exited (${code ?? signal}) before it was ready: ${stderr.slice(-2000)}`));
    resolve();
  }));
  child.once('error', (e) => failReady(e));
  return {
    ready,
    samples,
    async stop() {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      await ready;
      return samples;
    },
  };
}

/**
 * Tools for a broker started elsewhere (e.g. by a vitest globalSetup), from its `toJSON()`:
 * `produceOpenWire`, `queueStats` and `sampleQueue`, as on the handle.
 */
export function brokerTools(info) {
  const st = { ...info };
  return {
    produceOpenWire: (opts) => produceOpenWire(st, opts),
    queueStats: (queue) => queueStats(st, queue),
    sampleQueue: (queue, opts) => sampleQueue(st, queue, opts),
  };
}

/** Stop a broker by its handle (same as handle.stop()). */
export async function stopBroker(handle) {
  await handle.stop();
}

/** Write `handle.toJSON()` to the state file (default <cache>/state.json, env ACTIVEMQ_STATE_FILE). */
export async function writeState(handle, file = stateFilePath()) {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const t = `${file}.${rid()}`;
  await fsp.writeFile(t, JSON.stringify(handle.toJSON(), null, 2), { mode: 0o600 });
  await fsp.rename(t, file);
  return file;
}

/** Read the state file; adds `caPem` and `alive`. Returns null if there is none. */
export async function readState(file = stateFilePath()) {
  let s;
  try { s = JSON.parse(await fsp.readFile(file, 'utf8')); } catch { return null; }
  try { s.caPem = await fsp.readFile(s.caPath, 'utf8'); } catch { s.caPem = null; }
  s.alive = !!s.pid && groupAlive(s.pid);
  return s;
}

/** Stop the broker recorded in the state file, remove its instance dir and the state file. */
export async function stopFromState(file = stateFilePath(), { timeoutMs = 20000 } = {}) {
  const s = await readState(file);
  if (!s) return false;
  if (s.alive) await killGracefully(s.pid, { timeoutMs });
  if (s.instanceDir && s.instanceDir.startsWith(path.join(cacheDir(), 'instances'))) {
    await fsp.rm(s.instanceDir, { recursive: true, force: true });
  }
  await fsp.rm(file, { force: true });
  return true;
}

// ---------------------------------------------------------------------------------------------
// CLI

async function main(argv) {
  const cmd = argv[0];
  try {
    if (cmd === 'fetch') {
      const t0 = Date.now();
      const r = await fetchActiveMQ();
      console.log(JSON.stringify({ ...r, ms: Date.now() - t0 }, null, 2));
    } else if (cmd === 'start') {
      const prev = await readState();
      if (prev && prev.alive) {
        console.error(`a broker is already running (pid ${prev.pid}, ${stateFilePath()}); run \`node scripts/activemq.mjs stop\` first`);
        process.exit(1);
      }
      if (prev) await stopFromState();
      const t0 = Date.now();
      const b = await startBroker({ detached: true, watchdog: false });
      const file = await writeState(b);
      console.log(JSON.stringify({ ...b.toJSON(), stateFile: file, startMs: Date.now() - t0 }, null, 2));
    } else if (cmd === 'stop') {
      const ok = await stopFromState();
      console.log(ok ? 'stopped' : `no broker state in ${stateFilePath()}`);
    } else if (cmd === 'status') {
      const s = await readState();
      if (!s) { console.log('not running (no state file)'); process.exit(1); }
      const { caPem: _caPem, ...rest } = s;
      console.log(JSON.stringify(rest, null, 2));
      process.exit(s.alive ? 0 : 1);
    } else {
      console.error('usage: node scripts/activemq.mjs fetch|start|stop|status');
      process.exit(2);
    }
  } catch (e) {
    console.error(e instanceof JavaMissingError || e instanceof ActiveMQFetchError ? e.message : (e.stack || e));
    process.exit(1);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href) {
  await main(process.argv.slice(2));
}
