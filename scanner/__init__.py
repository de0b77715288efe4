"""aa-scan: proves, region by region, that an AWS Organization is covered by IAM Access
Analyzer."""

__version__ = "0.1.0"
