"""Generated from proto/ by scripts/gen-clients.sh. Do not edit."""
