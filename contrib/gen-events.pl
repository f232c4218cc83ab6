#!/usr/bin/perl
# contrib/gen-events.pl: generate realistic Stripe subscription lifecycles
# (2025-03-31.basil shapes) for the demo, tests and benchmarks.
#
#   gen-events.pl [-n USERS] [-s SEED] [-t CREATED0] [-u users.txt] [-S] > events.jsonl
#
# Writes one compact event per line.  -u writes the user ids (one UUID per
# line) that the application must have in user_profiles.  -S shuffles the
# events (Stripe guarantees no order).  Each user gets: checkout completed,
# subscription created (active), invoice paid, and then, by a seeded draw,
# a renewal, a plan change, a past_due/active round trip, a cancellation, a
# refund or a dispute.  User u's events are created from CREATED0 + 100 u
# seconds on (at most 120 s later); CREATED0 is 1764000000 unless -t.
use strict;
use warnings;
use Getopt::Std;

my %o = (n => 50, s => 1);
getopts('n:s:t:u:S', \%o) or die "usage: gen-events.pl [-n users] [-s seed] [-t created0] [-u file] [-S]\n";
srand($o{s});

my @tiers = ([bronze => 'price_bronze_monthly'], [silver => 'price_silver_monthly'],
    [gold => 'price_gold_monthly']);
my $t0 = $o{t} // 1764000000;	# the first event's created (Unix time)
my $seq = 0;
my (@events, @users);

sub hex_rand { join '', map { sprintf '%x', int rand 16 } 1 .. $_[0] }
sub uuid {
	my @h = split //, hex_rand(32);
	$h[12] = "4";
	$h[16] = (qw(8 9 a b))[int rand 4];
	my $s = join "", @h;
	return join "-", substr($s, 0, 8), substr($s, 8, 4), substr($s, 12, 4), substr($s, 16, 4), substr($s, 20, 12);
}
sub js { my $s = shift; $s =~ s/(["\\])/\\$1/g; "\"$s\"" }

sub event {
	my ($type, $created, $obj) = @_;
	$seq++;
	my $id = sprintf 'evt_demo%06d%s', $seq, hex_rand(8);
	push @events, sprintf '{"id":%s,"object":"event","api_version":"2025-03-31.basil",'
	    . '"created":%d,"data":{"object":%s},"livemode":false,"pending_webhooks":1,'
	    . '"request":{"id":null,"idempotency_key":null},"type":%s}',
	    js($id), $created, $obj, js($type);
}

sub sub_obj {
	my ($sub, $cus, $status, $price, $ps, $pe, $cancel) = @_;
	return sprintf '{"id":%s,"object":"subscription","cancel_at_period_end":%s,'
	    . '"customer":%s,"items":{"object":"list","data":[{"id":"si_%s","object":'
	    . '"subscription_item","current_period_end":%d,"current_period_start":%d,'
	    . '"price":{"id":%s,"object":"price","currency":"usd","unit_amount":999},'
	    . '"quantity":1}]},"livemode":false,"metadata":{},"status":%s}',
	    js($sub), $cancel ? 'true' : 'false', js($cus), hex_rand(14), $pe, $ps,
	    js($price), js($status);
}

sub invoice_obj {
	my ($sub, $cus, $price, $ps, $pe, $amount) = @_;
	my $in = 'in_' . hex_rand(24);
	return sprintf '{"id":%s,"object":"invoice","amount_due":%d,"amount_paid":%d,'
	    . '"billing_reason":"subscription_cycle","currency":"usd","customer":%s,'
	    . '"lines":{"object":"list","data":[{"id":"il_%s","object":"line_item",'
	    . '"amount":%d,"parent":{"type":"subscription_item_details",'
	    . '"subscription_item_details":{"subscription":%s}},'
	    . '"period":{"end":%d,"start":%d},"pricing":{"price_details":{"price":%s}}}]},'
	    . '"parent":{"type":"subscription_details","subscription_details":'
	    . '{"subscription":%s}},"status":"paid"}',
	    js($in), $amount, $amount, js($cus), hex_rand(14), $amount, js($sub), $pe, $ps,
	    js($price), js($sub);
}

for my $u (1 .. $o{n}) {
	my $user = uuid();
	push @users, $user;
	my $sub = 'sub_' . hex_rand(24);
	my $cus = 'cus_' . hex_rand(14);
	my $k = int rand @tiers;
	my ($tier, $price) = @{$tiers[$k]};
	my $t = $t0 + $u * 100;
	my ($ps, $pe) = ($t, $t + 30 * 86400);

	event('checkout.session.completed', $t, sprintf '{"id":"cs_test_%s","object":'
	    . '"checkout.session","amount_total":999,"client_reference_id":null,'
	    . '"currency":"usd","customer":%s,"livemode":false,"metadata":{"userId":%s,'
	    . '"tier":%s},"mode":"subscription","payment_status":"paid","status":"complete",'
	    . '"subscription":%s}', hex_rand(24), js($cus), js($user), js($tier), js($sub));
	event('customer.subscription.created', $t, sub_obj($sub, $cus, 'active', $price, $ps, $pe, 0));
	event('invoice.paid', $t + 1, invoice_obj($sub, $cus, $price, $ps, $pe, 999));

	my $r = rand;
	if ($r < 0.25) {		# renewal
		event('invoice.paid', $pe, invoice_obj($sub, $cus, $price, $pe, $pe + 30 * 86400, 999));
		event('customer.subscription.updated', $pe, sub_obj($sub, $cus, 'active', $price, $pe, $pe + 30 * 86400, 0));
	} elsif ($r < 0.45) {	# plan change
		my ($nt, $np) = @{$tiers[($k + 1) % @tiers]};
		event('customer.subscription.updated', $t + 50, sub_obj($sub, $cus, 'active', $np, $ps, $pe, 0));
	} elsif ($r < 0.65) {	# failed renewal, then recovered
		event('customer.subscription.updated', $pe, sub_obj($sub, $cus, 'past_due', $price, $pe, $pe + 30 * 86400, 0));
		event('customer.subscription.updated', $pe + 3600, sub_obj($sub, $cus, 'active', $price, $pe, $pe + 30 * 86400, 0));
	} elsif ($r < 0.85) {	# cancellation
		event('customer.subscription.updated', $t + 60, sub_obj($sub, $cus, 'active', $price, $ps, $pe, 1));
		event('customer.subscription.deleted', $pe, sub_obj($sub, $cus, 'canceled', $price, $ps, $pe, 1));
	} else {		# a refund
		event('charge.refunded', $t + 120, sprintf '{"id":"ch_%s","object":"charge",'
		    . '"amount":999,"amount_refunded":999,"currency":"usd","customer":%s,'
		    . '"livemode":false,"refunded":true,"payment_intent":"pi_%s"}',
		    hex_rand(24), js($cus), hex_rand(24));
	}
}

if ($o{S}) {
	for (my $i = @events - 1; $i > 0; $i--) {
		my $j = int rand($i + 1);
		@events[$i, $j] = @events[$j, $i];
	}
}
print "$_\n" for @events;
if (defined $o{u}) {
	open my $fh, '>', $o{u} or die "$o{u}: $!\n";
	print $fh "$_\n" for @users;
	close $fh;
}
