"""Tests of what deploys it: cloudbuild.yaml, the images and containers, gcp_setup.sh, the smoke check."""
