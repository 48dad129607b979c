// What both forwarding baselines do per event, kept in one place so the bare and the Koa forwarder differ only
// in the framework: check and parse the event, build the outgoing request the way our roles do, post it to
// BROKER_URL over a keep-alive agent and report the receiver's status.
//   - legacy input (ce_type/ce_source headers, what the handler's clients send) → structured mode with an id
//     and time filled in and the data bytes spliced in unchanged, as the handler posts to a broker;
//   - binary input (ce- headers, what a Trigger delivers) → binary mode with a new id and `sourceeventid`, the
//     data bytes passed on unchanged, as the sink-forwarder posts echo's result to a KafkaSink.
/* global require, module */
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS like the floor */
'use strict';
const http = require('node:http');
const { randomUUID } = require('node:crypto');

const target = new URL(String(process.env.BROKER_URL));
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const binaryRequired = ['ce-specversion', 'ce-id', 'ce-source', 'ce-type'];

/** The outgoing headers and body for one incoming event; throws (→ 400) when it is not a valid one. */
function outgoingFor(headers, body) {
  // Both our roles check that a JSON body parses before anything goes out; so does the baseline.
  JSON.parse(body.toString('utf8'));
  if (headers['ce-specversion'] !== undefined) {
    if (binaryRequired.some((name) => !headers[name])) throw new Error('missing CloudEvent attributes');
    return {
      headers: {
        'content-type': headers['content-type'],
        'ce-specversion': '1.0',
        'ce-id': randomUUID(),
        'ce-source': '/bench/forwarder',
        'ce-type': headers['ce-type'],
        'ce-sourceeventid': headers['ce-id'],
      },
      body,
      answer: '',
    };
  }
  if (!headers.ce_type || !headers.ce_source) throw new Error('missing ce_type or ce_source');
  const id = randomUUID();
  const envelope = `{"specversion":"1.0","id":"${id}","source":${JSON.stringify(headers.ce_source)},"type":${JSON.stringify(headers.ce_type)},"time":"${new Date().toISOString()}","datacontenttype":"application/json","data":`;
  return {
    headers: { 'content-type': 'application/cloudevents+json; charset=utf-8' },
    body: Buffer.concat([Buffer.from(envelope), body, Buffer.from('}')]),
    answer: `{"success":true,"id":"${id}","type":${JSON.stringify(headers.ce_type)},"source":${JSON.stringify(headers.ce_source)}}`,
  };
}

/** Posts one outgoing request; resolves with the receiver's status (502 when it could not be reached). */
function post(outgoing) {
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'POST',
        agent,
        headers: { ...outgoing.headers, 'content-length': outgoing.body.length },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 502));
      },
    );
    req.on('error', () => resolve(502));
    req.end(outgoing.body);
  });
}

module.exports = { outgoingFor, post };
