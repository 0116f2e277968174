/**
 * Service ports that attack rules name — the one table: the post pass (a periodic login is brute
 * force, not a beacon) and the incident rules (which service a reflection abused, which login a brute
 * force guessed) both read it.
 */

/** Login services: repeated short connections to these are password guessing. */
export const LOGIN_SERVICES: ReadonlyMap<number, string> = new Map([
  [21, 'ftp'],
  [22, 'ssh'],
  [23, 'telnet'],
  [110, 'pop3'],
  [143, 'imap'],
  [445, 'smb'],
  [902, 'vmware-auth'],
  [993, 'imaps'],
  [995, 'pop3s'],
  [1433, 'mssql'],
  [3306, 'mysql'],
  [3389, 'rdp'],
  [5432, 'postgresql'],
  [5900, 'vnc'],
])

/**
 * UDP services abused for reflection and amplification (US-CERT TA14-017A and later advisories): a
 * victim receiving their answers from many servers, unasked, is under a reflection attack. The
 * reflector's service is the source port of what the victim receives.
 */
export const AMPLIFICATION_SERVICES: ReadonlyMap<number, string> = new Map([
  [17, 'qotd'],
  [19, 'chargen'],
  [53, 'dns'],
  [69, 'tftp'],
  [111, 'portmap'],
  [123, 'ntp'],
  [137, 'netbios'],
  [161, 'snmp'],
  [389, 'cldap'],
  [500, 'ike'],
  [520, 'rip'],
  [1434, 'mssql-browser'],
  [1900, 'ssdp'],
  [3283, 'apple-remote-desktop'],
  [3478, 'stun'],
  [3702, 'ws-discovery'],
  [5060, 'sip'],
  [5351, 'nat-pmp'],
  [5353, 'mdns'],
  [5683, 'coap'],
  [10001, 'ubiquiti-discovery'],
  [11211, 'memcached'],
  [27015, 'steam'],
  [32414, 'plex'],
  [37810, 'dvr-discovery'],
  [47808, 'bacnet'],
])
