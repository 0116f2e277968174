/** Captures into flows: pcap/pcapng reading, packet decoding, flow assembly. */
export {readCapture} from './capture-reader.js'
export {PCAP_MAGIC_MICROS, PCAP_MAGIC_NANOS, PCAPNG_BYTE_ORDER_MAGIC, PCAPNG_EPB, PCAPNG_IDB, PCAPNG_IF_TSRESOL, PCAPNG_OPT_ENDOFOPT, PCAPNG_SHB} from './capture-format.js'
export {FlowAssembler} from './flow-assembler.js'
export type {FlowAssemblerStats} from './flow-assembler.js'
export type {CaptureFormat, CaptureReadStats, PacketBatch} from './packet-batch.js'
export {DECODE_NOT_IP, DECODE_OK, DECODE_TRUNCATED, createDecodedPacket, decodePacket} from './packet-decoder.js'
export type {DecodedPacket} from './packet-decoder.js'
