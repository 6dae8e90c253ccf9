// Prints the KRaft metadata quorum's leader id (what `kafka-metadata-quorum describe --status` calls
// LeaderId), through the Admin API's describeMetadataQuorum; used by test/chaos/quorum.ts.
// Usage: java -cp '<kafka libs>/*' QuorumLeader.java <bootstrap controllers, comma-separated>
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;

public class QuorumLeader {
  public static void main(String[] args) throws Exception {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_CONTROLLERS_CONFIG, args[0]);
    p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
    p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "10000");
    try (Admin admin = Admin.create(p)) {
      System.out.println(admin.describeMetadataQuorum().quorumInfo().get().leaderId());
    }
  }
}
