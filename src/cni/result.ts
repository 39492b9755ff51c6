// Result shapes per spec generation and conversion through the 1.x hub.
// (Types first; conversion functions are implemented below them.)

/** SPEC 1.x "interfaces" entry. */
export interface Interface {
  name: string;
  mac?: string;
  mtu?: number;
  sandbox?: string;
  socketPath?: string;
  pciID?: string;
}
/** SPEC 1.x "ips" entry; `interface` indexes into `interfaces`. */
export interface IPConfig {
  interface?: number;
  address: string;
  gateway?: string;
}
export interface Route {
  dst: string;
  gw?: string;
  mtu?: number;
  advmss?: number;
  priority?: number;
  table?: number;
  scope?: number;
}
export interface DNS {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}
/** The hub: a result in 1.x form (1.0.0 and 1.1.0 share it). */
export interface Result100 {
  cniVersion: string;
  interfaces?: Interface[];
  ips?: IPConfig[];
  routes?: Route[];
  dns?: DNS;
}
