"""What the Pelican plugin, the tools around the site and the responses service
share: settings and their defaults, the data contract between the build and the
service, and small file helpers. Imports nothing heavy (no Pelican, no Pillow),
so the service can use it without loading the site builder."""
