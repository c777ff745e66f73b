// The Qpid JMS runner of `npm run bench:peers`: one JVM for every round (its JIT warms up on the
// warm-up round, as the Node runners' process does), driven over stdin and stdout:
//
//   java -cp <classes>:<lib>/* QpidJmsDrain <amqps URL with its options> <username> <password>
//   <- ready <pid>
//   -> drain client|auto <queue> <count>
//   <- done <elapsed ns> <process CPU ns>      (or: error <text>)
//
// A drain connects, drains `count` messages from `queue` with a synchronous consumer (receive(), as
// Amazon MQ's Java example does), reads each TextMessage's text and acknowledges it: with
// CLIENT_ACKNOWLEDGE by message.acknowledge() after each one, with AUTO_ACKNOWLEDGE by the session.
// Timed from before the connection is made to the last acknowledgement (closing is not timed, as
// for the Node runners); CPU is the whole JVM's over that time (all its threads: I/O, GC, JIT).
import jakarta.jms.Connection;
import jakarta.jms.JMSException;
import jakarta.jms.Message;
import jakarta.jms.MessageConsumer;
import jakarta.jms.Session;
import jakarta.jms.TextMessage;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import org.apache.qpid.jms.JmsConnectionFactory;

public final class QpidJmsDrain {
  /** How long one receive() may wait before the drain counts as stuck. */
  private static final long RECEIVE_TIMEOUT_MS = 30_000;

  private QpidJmsDrain() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 3) throw new IllegalArgumentException("usage: QpidJmsDrain <url> <username> <password>");
    JmsConnectionFactory factory = new JmsConnectionFactory(args[1], args[2], args[0]);
    com.sun.management.OperatingSystemMXBean os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    System.out.println("ready " + ProcessHandle.current().pid());
    System.out.flush();
    for (String line; (line = in.readLine()) != null; ) {
      String[] f = line.trim().split(" ");
      try {
        if (f.length != 4 || !f[0].equals("drain")) throw new IllegalArgumentException("not a drain command: " + line);
        int mode = switch (f[1]) {
          case "client" -> Session.CLIENT_ACKNOWLEDGE;
          case "auto" -> Session.AUTO_ACKNOWLEDGE;
          default -> throw new IllegalArgumentException("acknowledge mode client or auto, not " + f[1]);
        };
        long cpu = os.getProcessCpuTime();
        long started = System.nanoTime();
        long elapsed = drain(factory, mode, f[2], Integer.parseInt(f[3]), started);
        System.out.println("done " + elapsed + " " + (os.getProcessCpuTime() - cpu));
      } catch (Exception e) {
        System.out.println("error " + String.valueOf(e).replace('\n', ' '));
      }
      System.out.flush();
    }
  }

  /** Drains `count` messages; returns the nanoseconds from `started` to the last acknowledgement. */
  private static long drain(JmsConnectionFactory factory, int mode, String queue, int count, long started) throws JMSException {
    try (Connection connection = factory.createConnection()) {
      Session session = connection.createSession(false, mode);
      MessageConsumer consumer = session.createConsumer(session.createQueue(queue));
      connection.start();
      for (int i = 0; i < count; i++) {
        Message message = consumer.receive(RECEIVE_TIMEOUT_MS);
        if (message == null) throw new IllegalStateException("received " + i + " of " + count + ", then nothing for " + RECEIVE_TIMEOUT_MS + " ms");
        if (!(message instanceof TextMessage text) || text.getText() == null) throw new IllegalStateException("not a TextMessage: " + message);
        if (mode == Session.CLIENT_ACKNOWLEDGE) message.acknowledge();
      }
      return System.nanoTime() - started;
    }
  }
}
