// The pedestals micad knows. Shared by annotation parsing (`ped.pedestal`) and the runtime config
// (`[mica] pedestal`) so a typo fails in both places the same way instead of silently meaning
// bare metal (micad treats every unknown pedestal string as bare metal).
export const PEDESTALS = ['xen', 'jailhouse', 'hetero', 'baremetal'] as const;
export type Pedestal = (typeof PEDESTALS)[number];

export const isPedestal = (v: string): v is Pedestal => (PEDESTALS as readonly string[]).includes(v);

/** The string micad's create message carries: "" means bare metal there. */
export const pedestalOnWire = (p: Pedestal | '' | undefined): string => (p === 'baremetal' || !p ? '' : p);
