/** Captures into flows: pcap/pcapng reading, packet decoding, flow assembly. */
export {readCapture} from './capture-reader.js'
export {FlowAssembler} from './flow-assembler.js'
export type {FlowAssemblerStats} from './flow-assembler.js'
export type {CaptureFormat, CaptureReadStats, PacketBatch} from './packet-batch.js'
export {DECODE_NOT_IP, DECODE_OK, DECODE_TRUNCATED, createDecodedPacket, decodePacket} from './packet-decoder.js'
export type {DecodedPacket} from './packet-decoder.js'
