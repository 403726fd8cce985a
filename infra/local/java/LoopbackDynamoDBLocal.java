// DynamoDB Local listening on 127.0.0.1 only.
//
// DynamoDB Local has no option for the address it listens on (its -help lists -port, -inMemory,
// -dbPath, -sharedDb, -cors, -delayTransientStatuses, -optimizeDbBeforeStartup,
// -disableTelemetry): DynamoDBProxyServer builds a Jetty Server(port), whose connector listens on
// every interface. This launcher builds the server from the same command line, sets its
// connectors' host to the loopback address before starting it, and starts it. Telemetry is never
// configured (the jar's own main would). Built by infra/local/dynamodb_local.py with javac.
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

public final class LoopbackDynamoDBLocal {
    private LoopbackDynamoDBLocal() {}

    public static void main(String[] args) throws Exception {
        String host = System.getProperty("tidings.bind", "127.0.0.1");
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
        java.lang.reflect.Field field = DynamoDBProxyServer.class.getDeclaredField("server");
        field.setAccessible(true);
        Server server = (Server) field.get(proxy);
        for (Connector connector : server.getConnectors()) {
            ((ServerConnector) connector).setHost(host);
        }
        proxy.start();
        System.out.println("DynamoDB Local listening on " + host);
    }
}
