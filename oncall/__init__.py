"""The on-call program (PagerDuty): a separate Pulumi project next to the platform's; see oncall/README.md."""
