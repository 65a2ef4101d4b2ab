"""Static analysis: slither with watchdog's DeFi/oracle detectors, bytecode heuristics, deployment scans."""
