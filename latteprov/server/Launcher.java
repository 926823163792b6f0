// Starts an embedded Neo4j Community server with Bolt on 127.0.0.1 and nothing else.
// Run as a single source file (Java 11+): java -cp 'lib/*' Launcher.java HOME PORT AUTH PAGECACHE
// It prints "LATTEPROV-READY <port>" once Bolt accepts connections, and shuts the database
// down cleanly on SIGTERM (shutdown hook), so a stop never needs recovery.
import java.nio.file.Path;
import java.time.Duration;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.graphdb.Transaction;

public class Launcher {
    public static void main(String[] args) {
        try {
            run(args);
        } catch (Throwable e) {
            // Without this the database's non-daemon threads would keep a broken JVM alive.
            System.out.println("LATTEPROV-FAILED " + e);
            e.printStackTrace(System.out);
            System.exit(1);
        }
    }

    static void run(String[] args) throws Exception {
        Path home = Path.of(args[0]).toAbsolutePath();
        int port = Integer.parseInt(args[1]);
        boolean auth = Boolean.parseBoolean(args[2]);
        String pageCache = args.length > 3 ? args[3] : "512m";
        String password = System.getenv("LATTEPROV_INITIAL_PASSWORD");

        DatabaseManagementService service = new DatabaseManagementServiceBuilder(home)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
                .setConfig(BoltConnector.advertised_address, new SocketAddress("127.0.0.1", port))
                .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                .setConfig(HttpConnector.enabled, false)
                .setConfig(HttpsConnector.enabled, false)
                .setConfig(GraphDatabaseSettings.auth_enabled, auth)
                .setConfig(GraphDatabaseSettings.pagecache_memory, org.neo4j.io.ByteUnit.parse(pageCache))
                .setConfig(GraphDatabaseSettings.transaction_timeout, Duration.ofMinutes(30))
                // Transaction logs are pruned at checkpoints to this size (default: 2 days of
                // them, as much again as the store after a bulk load). Community has no
                // differential backup that reads them; recovery needs only those since the
                // last checkpoint, which are always kept.
                .setConfig(GraphDatabaseSettings.keep_logical_logs, "1G size")
                // A stop waits this long for running transactions (default 10 s, even when idle).
                .setConfig(GraphDatabaseSettings.shutdown_transaction_end_timeout, Duration.ofSeconds(2))
                .setConfig(org.neo4j.configuration.GraphDatabaseInternalSettings.netty_server_shutdown_quiet_period, 0)
                .setConfig(org.neo4j.configuration.GraphDatabaseInternalSettings.netty_server_shutdown_timeout, Duration.ofSeconds(2))
                .build();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("LATTEPROV-STOPPING");
            service.shutdown();
            System.out.println("LATTEPROV-STOPPED");
        }));
        if (auth && password != null && !password.isEmpty()) {
            // The initial user is neo4j/neo4j with a forced change; set ours once.
            // Only while the initial password is still required to change: later starts keep it.
            GraphDatabaseService system = service.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME);
            boolean initial;
            try (Transaction tx = system.beginTx()) {
                initial = tx.execute("SHOW USERS YIELD user, passwordChangeRequired "
                        + "WHERE user = 'neo4j' RETURN passwordChangeRequired AS r")
                        .stream().anyMatch(row -> Boolean.TRUE.equals(row.get("r")));
            }
            if (initial) {
                try (Transaction tx = system.beginTx()) {
                    tx.execute("ALTER USER neo4j SET PASSWORD $pw CHANGE NOT REQUIRED",
                            java.util.Map.of("pw", password));
                    tx.commit();
                }
            }
        }
        service.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME); // fail fast if it cannot open
        System.out.println("LATTEPROV-READY " + port);
        System.out.flush();
        Thread.currentThread().join();
    }
}
