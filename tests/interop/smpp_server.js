// A node-smpp SMSC for interop tests. It prints one JSON line per event on stdout:
//   {"event":"listening","port":N}
//   {"event":"pdu","command":"submit_sm","raw":"<hex of the PDU as received>", ...}
// It answers every submit_sm with message id "nd<N>", then sends a receipt for it: in the
// classic text form for even N, as TLVs only for odd N. After the first bind it sends one
// inbound (MO) message in UCS-2. It exits by itself after a minute.
//
// With the argument "hostile" it plays a careless SMSC instead: for odd N the message id is
// bytes that are not UTF-8 (and its receipt names them in the TLV); for even N the text
// receipt's err: field is 80 characters long, more than any column for it holds.
'use strict';
const smpp = require('smpp');

// Record every PDU's raw bytes: wrap the stream framer that node-smpp uses.
smpp.PDU.fromStream = function (stream, commandLength) {
  const body = stream.read(commandLength - 4);
  if (!body) return false;
  const head = Buffer.alloc(4);
  head.writeUInt32BE(commandLength, 0);
  const raw = Buffer.concat([head, body]);
  const pdu = new smpp.PDU(raw);
  pdu.raw = raw.toString('hex');
  return pdu;
};

const say = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
let counter = 0;
const hostile = process.argv[2] === 'hostile';

const server = smpp.createServer((session) => {
  session.on('pdu', (pdu) => {
    const sm = pdu.short_message;
    say({
      event: 'pdu', command: pdu.command, raw: pdu.raw, status: pdu.command_status,
      data_coding: pdu.data_coding, esm_class: pdu.esm_class,
      // node-smpp's own reading of the text, as an independent check of the encoding
      text: sm && typeof sm.message === 'string' ? sm.message : null,
    });
  });
  session.on('bind_transceiver', (pdu) => {
    if (pdu.system_id !== 'interop' || pdu.password !== 'pw') {
      session.send(pdu.response({ command_status: smpp.ESME_RBINDFAIL }));
      return;
    }
    session.send(pdu.response({ system_id: 'node-smsc' }));
    setTimeout(() => {
      session.deliver_sm({
        source_addr: '14155550123', source_addr_ton: 1, source_addr_npi: 1,
        destination_addr: '12345', esm_class: 0, data_coding: 8,
        short_message: Buffer.from('\u0421\u0422\u041e\u041f 😀', 'utf16le').swap16(),
      });
    }, 50);
  });
  session.on('submit_sm', (pdu) => {
    const n = ++counter;
    const id = hostile && n % 2 === 1
      ? Buffer.concat([Buffer.from([0x68, 0xff, 0xfe, 0xc3]), Buffer.from(String(n))])
      : 'nd' + n;
    session.send(pdu.response({ message_id: id }));
    setTimeout(() => {
      const common = {
        source_addr: pdu.destination_addr, source_addr_ton: pdu.dest_addr_ton, source_addr_npi: pdu.dest_addr_npi,
        destination_addr: pdu.source_addr, esm_class: 4,
      };
      if (n % 2 === 0) {
        const stat = hostile ? 'UNDELIV err:' + 'E'.repeat(80) : 'DELIVRD err:000';
        session.deliver_sm(Object.assign(common, {
          short_message: 'id:' + id + ' sub:001 dlvrd:001 submit date:2611231015 done date:2611231016 stat:' + stat + ' text:x',
        }));
      } else {
        session.deliver_sm(Object.assign(common, {
          short_message: '', receipted_message_id: id, message_state: 5,
        }));
      }
    }, 20);
  });
  session.on('enquire_link', (pdu) => session.send(pdu.response()));
  session.on('unbind', (pdu) => { session.send(pdu.response()); session.close(); });
  session.on('error', () => {});
});

server.listen(0, '127.0.0.1', () => say({ event: 'listening', port: server.address().port }));
setTimeout(() => process.exit(0), 60000);
