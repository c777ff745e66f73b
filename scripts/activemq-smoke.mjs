#!/usr/bin/env node
// Self-check of scripts/activemq.mjs: fetch + start a broker, talk to it with rhea over
// amqp+ssl with a VERIFIED certificate (ca: caPem), send/receive one AMQP message, receive one
// JMS TextMessage produced over OpenWire, check queueStats, restart (persistent message
// survives), stop.
//
//   node scripts/activemq-smoke.mjs
//
// Needs `rhea` resolvable: the repo's node_modules, or NODE_PATH=/some/dir/node_modules.
import { createRequire } from 'node:module';
import path from 'node:path';
import { startBroker } from './activemq.mjs';

const require = createRequire(import.meta.url);
let rhea;
try {
  rhea = require('rhea');
} catch {
  const extra = (process.env.NODE_PATH || '').split(path.delimiter).filter(Boolean);
  for (const p of extra) { try { rhea = require(path.join(p, 'rhea')); break; } catch { /* next */ } }
  if (!rhea) {
    console.error('rhea not found: run `npm install` in the repo, or set NODE_PATH to a node_modules that has rhea');
    process.exit(2);
  }
}

const t = (label, t0) => console.log(`  ${label}: ${Date.now() - t0} ms`);

function connect(broker) {
  const container = rhea.create_container({ id: `smoke-${process.pid}-${Date.now()}` });
  const conn = container.connect({
    host: '127.0.0.1',
    port: broker.amqpsPort,
    transport: 'tls',
    ca: broker.caPem,
    servername: 'localhost',
    username: broker.username,
    password: broker.password,
    reconnect: false,
  });
  return new Promise((resolve, reject) => {
    conn.once('connection_open', () => resolve(conn));
    conn.once('connection_error', (ctx) => reject(ctx.connection.error || new Error('connection_error')));
    conn.once('disconnected', (ctx) => reject(ctx.error || new Error('disconnected')));
  });
}

function receiveOne(conn, address, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const rcv = conn.open_receiver({ source: address, autoaccept: false, credit_window: 0 });
    const timer = setTimeout(() => { rcv.close(); reject(new Error(`no message on ${address} in ${timeoutMs} ms`)); }, timeoutMs);
    rcv.once('receiver_open', () => rcv.add_credit(1));
    rcv.once('message', (ctx) => {
      clearTimeout(timer);
      ctx.delivery.accept();
      rcv.close();
      resolve(ctx.message);
    });
  });
}

function send(conn, address, message) {
  return new Promise((resolve, reject) => {
    const snd = conn.open_sender({ target: address });
    snd.once('sendable', () => {
      const d = snd.send(message);
      snd.once('accepted', () => { snd.close(); resolve(d); });
      snd.once('rejected', (ctx) => reject(new Error(`rejected: ${JSON.stringify(ctx.delivery.remote_state)}`)));
    });
  });
}

function assert(cond, msg) {
  if (!cond) throw new Error(`smoke check failed: ${msg}`);
}

const t0 = Date.now();
const broker = await startBroker();
t('fetch+start', t0);
console.log(`  ActiveMQ ${broker.version} amqp=${broker.amqpPort} amqps=${broker.amqpsPort} openwire=${broker.openwirePort}`);
let conn;
try {
  let t1 = Date.now();
  conn = await connect(broker);
  t('amqps connect (TLS verified)', t1);
  const props = conn.remote.open?.properties || {};
  console.log(`  open: container=${conn.remote.open?.container_id} product=${props.product} version=${props.version}`);

  t1 = Date.now();
  const body = JSON.stringify({ hello: 'amqp', n: 1 });
  await send(conn, 'smoke.amqp', { body, durable: true, message_id: 'smoke-1' });
  const m1 = await receiveOne(conn, 'smoke.amqp');
  assert(m1.body === body, `AMQP body round trip: ${JSON.stringify(m1.body)}`);
  t('AMQP send+receive', t1);

  t1 = Date.now();
  const json = JSON.stringify({ hello: 'openwire', text: "spaces and 'quotes' \"double\"" });
  await broker.produceOpenWire({ queue: 'smoke.openwire', message: json, count: 1 });
  const m2 = await receiveOne(conn, 'smoke.openwire');
  assert(m2.body === json, `OpenWire TextMessage body: ${JSON.stringify(m2.body)}`);
  assert(String(m2.message_id).startsWith('ID:'), `JMS message id: ${m2.message_id}`);
  t('OpenWire produce + AMQP receive', t1);

  t1 = Date.now();
  const stats = await broker.queueStats('smoke.openwire');
  assert(stats && stats.enqueued === 1 && stats.dequeued === 1 && stats.size === 0, `queueStats ${JSON.stringify(stats)}`);
  t('queueStats', t1);

  // restart: a persistent message survives
  await broker.produceOpenWire({ queue: 'smoke.restart', message: 'survivor', count: 1 });
  conn.close();
  t1 = Date.now();
  await broker.restart();
  t('restart', t1);
  conn = await connect(broker);
  const m3 = await receiveOne(conn, 'smoke.restart');
  assert(m3.body === 'survivor', `message after restart: ${JSON.stringify(m3.body)}`);
  conn.close();
  console.log('activemq smoke: OK');
} catch (e) {
  console.error(e);
  console.error(`broker log: ${broker.logPath}`);
  process.exitCode = 1;
} finally {
  try { conn?.close(); } catch { /* ignore */ }
  const t2 = Date.now();
  await broker.stop();
  t('stop', t2);
  // rhea may keep timers for a closed connection; do not wait for them
  setTimeout(() => process.exit(), 100).unref();
}

