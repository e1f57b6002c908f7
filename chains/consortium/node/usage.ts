/** The `isthmus node` lines of the CLI usage (kept apart so the CLI loads no node code to print it). */
export const NODE_USAGE = `  node init --home <dir> [--validators N] [--chain-id ID] [--base-port P] [--block-ms MS]
      create a consortium network's node homes (keys, genesis, config)
  node init --home <dir> --genesis <genesis.json> --peers <127.0.0.1:port,…> [--base-port P]
      a home joining an existing network (a non-validator full node)
  node init --home <dir> --join <127.0.0.1:port> [--base-port P] [--chain-id ID]
      a home joining a running network (genesis and peers fetched from that node's peer port);
      it follows as a full node and validates once a bond of its key takes effect, announcing
      its peer endpoint on chain so the validators dial it
  node tx --home <dir> [--api <127.0.0.1:port>] bond|unbond <amount> | delegate|undelegate <validator> <amount> | endpoint <host:port>
      a staking transaction signed with the home's key, submitted and waited for;
      amounts in ISTH base units (as stakes are)
  node --home <dir> [--devnet] [--clock-offset-ms MS] [--log-level LEVEL]
      run one consortium node (validator, or follower if its key is not one) from its home`;
