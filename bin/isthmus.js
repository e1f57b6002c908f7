#!/usr/bin/env node
// The `isthmus` command. The project runs TypeScript through tsx, so register it, then
// hand over to the CLI.
import { register } from "tsx/esm/api";

register();
await import("../relayer/cli/main.ts");
