# A fixed perl workload for bench/run_workloads.py: regex, substitution and
# split over a 200 KB string.
my $rounds = $ARGV[0] // 40;
my $total = 0;
for my $r (1 .. $rounds) {
  my $s = join(",", map { "item$_=" . ("x" x ($_ % 17)) } 1 .. 12000);
  my @f = split /,/, $s;
  my %h = map { my ($k, $v) = split /=/; ($k => $v) } @f;
  (my $t = $s) =~ s/item(\d+)/I$1/g;
  my @m = ($t =~ /I(\d+)=x{3,}/g);
  $total += scalar(@f) + scalar(keys %h) + scalar(@m) + length($t);
}
print "$total\n";
