// The version of Sluice, as `sluice --version` and /metrics' sluice_build_info show it.
export const VERSION = "0.1.0";
