// A node-smpp ESME for interop tests: binds to Herald's simulator, submits messages with
// receipts requested, answers the receipts, and prints one JSON summary line, then exits.
// Usage: node smpp_client.js PORT
'use strict';
const smpp = require('smpp');
const port = Number(process.argv[2]);
const say = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

const messages = [
  { destination_addr: '14155550101', short_message: 'Hello from node' },
  { destination_addr: '14155550102', short_message: 'Привет 😀' },
  { destination_addr: '447400123456', short_message: 'Price: 5€ [ok]' },
];
const submitted = [];
const receipts = [];
const session = smpp.connect({ url: 'smpp://127.0.0.1:' + port, auto_enquire_link_period: 10000 });
const done = () => {
  say({ submitted, receipts });
  session.close();
  process.exit(0);
};
setTimeout(() => { say({ error: 'timed out', submitted, receipts }); process.exit(2); }, 20000);

session.on('error', (e) => { say({ error: String(e) }); process.exit(3); });
session.on('deliver_sm', (pdu) => {
  session.send(pdu.response());
  const text = pdu.short_message && pdu.short_message.message;
  receipts.push({
    esm_class: pdu.esm_class,
    receipted_message_id: pdu.receipted_message_id || null,
    message_state: pdu.message_state === undefined ? null : pdu.message_state,
    text: Buffer.isBuffer(text) ? text.toString('latin1') : text,
  });
  if (receipts.length === messages.length) done();
});
session.bind_transceiver({ system_id: 'node', password: 'nodepw' }, (pdu) => {
  if (pdu.command_status !== 0) { say({ error: 'bind failed ' + pdu.command_status }); process.exit(4); }
  for (const m of messages) {
    session.submit_sm(Object.assign({ source_addr: 'NodeTest', source_addr_ton: 5, registered_delivery: 1 }, m), (resp) => {
      submitted.push({ to: m.destination_addr, status: resp.command_status, message_id: resp.message_id });
    });
  }
});
