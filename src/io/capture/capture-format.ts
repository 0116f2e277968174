/**
 * The numbers of the pcap and pcapng file formats that the reader (`readCapture`) and the generator's
 * `CaptureWriter` must agree on: libpcap's savefile magics, pcapng block types (draft-ietf-opsawg-pcapng
 * §4; the obsolete Packet Block is its Appendix A) and the interface options the reader honours.
 */
export const PCAP_MAGIC_MICROS = 0xa1b2c3d4
export const PCAP_MAGIC_NANOS = 0xa1b23c4d

export const PCAPNG_SHB = 0x0a0d0d0a
export const PCAPNG_BYTE_ORDER_MAGIC = 0x1a2b3c4d
export const PCAPNG_IDB = 0x00000001
export const PCAPNG_PB = 0x00000002
export const PCAPNG_SPB = 0x00000003
export const PCAPNG_EPB = 0x00000006
export const PCAPNG_OPT_ENDOFOPT = 0
export const PCAPNG_IF_TSRESOL = 9
export const PCAPNG_IF_TSOFFSET = 14
