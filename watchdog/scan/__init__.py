"""Static analysis: slither with watchdog's DeFi/oracle detectors, bytecode heuristics, deployment scans.

- `scanner.scan_path(path, ScanOptions)` -> ScanReport: sources (`sources`) compiled per pragma group with
  solc-js (`compiler`), analysed by slither plus the detectors of rules/slither/ (`plugin`, `ir`) in a
  worker process under time and memory limits (`worker`, `analyze`, `limits`), cached by source hash.
- `report`: text, JSON, SARIF 2.1.0 and Markdown renderings; baselines.
- `address.scan_address(...)`: a deployed contract, its source found by `resolve` (forge artifacts,
  Sourcify folder, explorer API), plus the bytecode verdict.
- `deployment.verdict_findings(verdict)`: the fast bytecode verdict on a contract (watchdog.detect.deployment,
  which the suspicious-deployment rule uses on every new contract) as report findings.
"""
